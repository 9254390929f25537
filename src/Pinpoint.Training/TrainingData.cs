namespace Pinpoint.Training;

/// <summary>
/// Where training windows come from. Every batch is a pure function of its arguments, so a resumed run sees exactly
/// the batches an uninterrupted one would.
/// </summary>
public interface ITrainingData : IDisposable
{
    /// <summary>Fills [batch × context] inputs and next-token targets for one micro-batch of one optimizer step.</summary>
    void FillTrainBatch(int seed, int step, int micro, int batch, int context, int[] inputs, int[] targets);

    /// <summary>Fills validation batch <paramref name="index"/> of <paramref name="batches"/> (the same windows at every evaluation).</summary>
    void FillValidationBatch(int index, int batches, int batch, int context, int[] inputs, int[] targets);
}

/// <summary>
/// How many rows of a training micro-batch end in an exact repeat of their last span, and the span lengths:
/// ⌊fraction·batch⌋ rows plus one more with the remaining probability, so the expected share is exactly the fraction.
/// With <paramref name="RandomVocab"/> &gt; 0 the span is uniform random tokens below it instead of the text's own
/// (which a model that has seen the corpus before may predict from memory rather than by copying). With
/// <paramref name="Anywhere"/> the span and its repeat start at a uniformly random offset and the text continues after
/// them; otherwise they end the row.
/// </summary>
public sealed record RepeatMix(double Fraction, int MinSpan, int MaxSpan, int RandomVocab = 0, bool Anywhere = false)
{
    public static readonly RepeatMix None = new(0, 0, 0);

    /// <summary>Draws the number of repeat rows; draws nothing when the fraction is 0, so such batches match a run without repeats.</summary>
    public int Rows(Random random, int batch) => BatchShare.Rows(random, Fraction, batch);
}

/// <summary>
/// How many rows of a training micro-batch are placed on an occurrence of a focus token (same count rule as
/// <see cref="RepeatMix"/>), which token ids those are, and whether only occurrences whose next token already occurred
/// in the half row before them count.
/// </summary>
public sealed record FocusMix(double Fraction, int[] TokenIds, bool NextInContext)
{
    public static readonly FocusMix None = new(0, [], false);

    public int Rows(Random random, int batch) => BatchShare.Rows(random, Fraction, batch);
}

public static class BatchShare
{
    /// <summary>⌊fraction·batch⌋ rows plus one more with the remaining probability; draws nothing when the fraction is 0, so such batches match a run without the mix.</summary>
    public static int Rows(Random random, double fraction, int batch)
    {
        if (fraction <= 0) return 0;
        double expected = fraction * batch;
        int rows = (int)Math.Floor(expected);
        return Math.Min(batch, rows + (random.NextDouble() < expected - rows ? 1 : 0));
    }
}

/// <summary>
/// Random windows of a tokenized corpus for training; evenly spaced windows of the held-out split for validation.
/// With a <see cref="RepeatMix"/>, the first rows of each training micro-batch are natural text in which a span of
/// L tokens is followed by the same L tokens again (still trained on next-token prediction throughout).
/// </summary>
public sealed class CorpusTrainingData(TokenDataset train, TokenDataset validation, RepeatMix? repeats = null, FocusMix? focus = null) : ITrainingData
{
    private readonly RepeatMix _repeats = repeats ?? RepeatMix.None;
    private readonly FocusMix _focus = focus ?? FocusMix.None;
    private long[][]? _focusOccurrences;
    private int _focusContext;
    private int[] _window = [];

    public void FillTrainBatch(int seed, int step, int micro, int batch, int context, int[] inputs, int[] targets)
    {
        var random = new Random(BatchSeed.Of(seed, step, micro));
        int repeatRows = _repeats.Rows(random, batch);
        int focusRows = Math.Min(batch - repeatRows, _focus.Rows(random, batch));
        for (int r = repeatRows; r < repeatRows + focusRows; r++)
            CopyRow(FocusWindow(random, context), r, context, inputs, targets);
        for (int r = 0; r < batch; r++)
        {
            if (r >= repeatRows && r < repeatRows + focusRows) continue;
            int span = r < repeatRows ? random.Next(_repeats.MinSpan, _repeats.MaxSpan + 1) : 0;
            int natural = context + 1 - span;
            var window = Window(context, train.Slice(random.NextInt64(train.Count - natural), natural));
            // Drawn only for rows placed anywhere, so end-placed batches stay those of earlier runs.
            int start = span > 0 && _repeats.Anywhere ? random.Next(natural - span + 1) : natural - span;
            if (span > 0 && _repeats.RandomVocab > 0)
                for (int i = start; i < start + span; i++) window[i] = random.Next(_repeats.RandomVocab);
            // The text after the span moves right by one span; the repeat fills the gap.
            window.AsSpan(start + span, natural - start - span).CopyTo(window.AsSpan(start + 2 * span));
            window.AsSpan(start, span).CopyTo(window.AsSpan(start + span));
            CopyRow(window, r, context, inputs, targets);
        }
    }

    /// <summary>
    /// A window whose token at a uniformly drawn index in [context/2, context] is an occurrence of a uniformly drawn focus
    /// token, so it is predicted (a target) with at least half a row of text before it.
    /// </summary>
    private int[] FocusWindow(Random random, int context)
    {
        var occurrences = FocusOccurrences(context);
        var positions = occurrences[random.Next(occurrences.Length)];
        long at = positions[random.Next(positions.Length)];
        int index = random.Next(context / 2, context + 1);
        long start = Math.Clamp(at - index, 0, train.Count - context - 1);
        return Window(context, train.Slice(start, context + 1));
    }

    /// <summary>Per focus token with any occurrence, the training-split positions it may be placed at (found once per context length).</summary>
    private long[][] FocusOccurrences(int context)
    {
        if (_focusOccurrences is not null && _focusContext == context) return _focusOccurrences;
        int before = context / 2;
        var found = _focus.TokenIds.Select(_ => new List<long>()).ToArray();
        for (long p = before; p + 1 < train.Count; p++)
        {
            int which = Array.IndexOf(_focus.TokenIds, (int)train[p]);
            if (which < 0 || (_focus.NextInContext && !train.Slice(p - before, before).Contains(train[p + 1]))) continue;
            found[which].Add(p);
        }
        _focusOccurrences = found.Where(list => list.Count > 0).Select(list => list.ToArray()).ToArray();
        if (_focusOccurrences.Length == 0)
            throw new InvalidDataException($"{train.Path}: no occurrence of the focus tokens{(_focus.NextInContext ? " whose next token occurred in the half row before" : "")}");
        _focusContext = context;
        return _focusOccurrences;
    }

    public void FillValidationBatch(int index, int batches, int batch, int context, int[] inputs, int[] targets)
    {
        long span = validation.Count - context - 1;
        for (int r = 0; r < batch; r++)
            CopyRow(Window(context, validation.Slice(span * (index * batch + r) / Math.Max(1, batches * batch), context + 1)), r, context, inputs, targets);
    }

    /// <summary>The reused buffer of context + 1 tokens, starting with <paramref name="tokens"/>.</summary>
    private int[] Window(int context, ReadOnlySpan<ushort> tokens)
    {
        if (_window.Length != context + 1) _window = new int[context + 1];
        for (int i = 0; i < tokens.Length; i++) _window[i] = tokens[i];
        return _window;
    }

    private static void CopyRow(int[] window, int row, int context, int[] inputs, int[] targets)
    {
        window.AsSpan(0, context).CopyTo(inputs.AsSpan(row * context));
        window.AsSpan(1, context).CopyTo(targets.AsSpan(row * context));
    }

    public void Dispose()
    {
        train.Dispose();
        validation.Dispose();
    }
}

/// <summary>
/// Synthetic sequences: a random token string repeated (period drawn per row between a quarter and a half of the
/// context, so no fixed positional offset predicts the repeat). Only in-context copying — an induction head — can
/// predict the repeats, which makes this the standard induction-formation task.
/// </summary>
public sealed class RepeatedRandomTokens(int vocabSize) : ITrainingData
{
    public void FillTrainBatch(int seed, int step, int micro, int batch, int context, int[] inputs, int[] targets) =>
        Fill(new Random(BatchSeed.Of(seed, step, micro)), batch, context, inputs, targets);

    public void FillValidationBatch(int index, int batches, int batch, int context, int[] inputs, int[] targets) =>
        Fill(new Random(BatchSeed.Of(-1, index, 0)), batch, context, inputs, targets);

    private void Fill(Random random, int batch, int context, int[] inputs, int[] targets)
    {
        var window = new int[context + 1];
        for (int r = 0; r < batch; r++)
        {
            int period = random.Next(Math.Max(1, context / 4), Math.Max(2, (context + 1) / 2 + 1));
            for (int i = 0; i < period; i++) window[i] = random.Next(vocabSize);
            for (int i = period; i <= context; i++) window[i] = window[i - period];
            for (int i = 0; i < context; i++)
            {
                inputs[r * context + i] = window[i];
                targets[r * context + i] = window[i + 1];
            }
        }
    }

    public void Dispose() { }
}

/// <summary>
/// The seed of one batch's random generator, mixed from its coordinates with SplitMix64. HashCode.Combine would be
/// shorter but is randomised per process, so a run killed and resumed in a new process would draw other batches.
/// </summary>
public static class BatchSeed
{
    public static int Of(int seed, int step, int micro)
    {
        ulong z = Mix(Mix(Mix(0x9E3779B97F4A7C15UL ^ (uint)seed) ^ (uint)step) ^ (uint)micro);
        return (int)(z >> 33);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

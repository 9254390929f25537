using Pinpoint.Training;

namespace Pinpoint.Tests.Training;

/// <summary>
/// The repeat mix of the corpus batch builder, on a token file whose tokens all differ and rise by one: a natural
/// window then never repeats, so every repeat row — where it starts and how long it is — can be read back exactly.
/// </summary>
public sealed class RepeatMixTests : IDisposable
{
    private const int Context = 32, Batch = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("pinpoint-repeat-").FullName;
    private readonly TokenDataset _train, _validation;

    public RepeatMixTests()
    {
        _train = TokenDataset.Open(WriteTokens("train.bin", first: 100, count: 30_000));
        _validation = TokenDataset.Open(WriteTokens("val.bin", first: 40_000, count: 5_000));
    }

    private string WriteTokens(string name, int first, int count)
    {
        var path = Path.Combine(_dir, name);
        using var writer = new BinaryWriter(File.Create(path));
        for (int i = 0; i < count; i++) writer.Write((ushort)(first + i));
        return path;
    }

    private (int[] Inputs, int[] Targets) Train(CorpusTrainingData data, int step, int micro = 0)
    {
        var (inputs, targets) = (new int[Batch * Context], new int[Batch * Context]);
        data.FillTrainBatch(seed: 7, step, micro, Batch, Context, inputs, targets);
        return (inputs, targets);
    }

    /// <summary>The row's context + 1 tokens (inputs, then the last target).</summary>
    private static int[] Sequence(int[] inputs, int[] targets, int row)
    {
        var sequence = new int[Context + 1];
        for (int i = 0; i < Context; i++)
        {
            sequence[i] = inputs[row * Context + i];
            // Targets are the inputs shifted by one, also across the repeat's seam.
            Assert.Equal(i + 1 < Context ? inputs[row * Context + i + 1] : targets[row * Context + i], targets[row * Context + i]);
        }
        sequence[Context] = targets[row * Context + Context - 1];
        return sequence;
    }

    /// <summary>Length of the repeated span (0 for a natural row), asserting that the repeat is exact.</summary>
    private static int RepeatLength(int[] sequence)
    {
        int natural = 1;
        while (natural < sequence.Length && sequence[natural] == sequence[natural - 1] + 1) natural++;
        int span = sequence.Length - natural;
        for (int j = 0; j < span; j++) Assert.Equal(sequence[natural - span + j], sequence[natural + j]);
        return span;
    }

    private List<int> RepeatLengths(CorpusTrainingData data, int step)
    {
        var (inputs, targets) = Train(data, step);
        return Enumerable.Range(0, Batch).Select(r => RepeatLength(Sequence(inputs, targets, r))).ToList();
    }

    [Fact]
    public void RepeatRowsAreExactRepeatsOfTheirLastSpanWithinTheSpanRange()
    {
        var data = new CorpusTrainingData(_train, _validation, new RepeatMix(0.25, 4, 16));
        var seen = new HashSet<int>();
        for (int step = 1; step <= 50; step++)
        {
            var lengths = RepeatLengths(data, step);
            // 0.25 × 16 is a whole 4 rows: every batch has exactly four, first.
            Assert.All(lengths.Take(4), l => Assert.InRange(l, 4, 16));
            Assert.All(lengths.Skip(4), l => Assert.Equal(0, l));
            seen.UnionWith(lengths.Take(4));
        }
        Assert.Contains(4, seen);
        Assert.Contains(16, seen);
    }

    /// <summary>Random spans (tokens below 50, where the corpus has none): natural text, a random span, the same span again.</summary>
    [Fact]
    public void RandomSpansRepeatExactlyAfterNaturalText()
    {
        var data = new CorpusTrainingData(_train, _validation, new RepeatMix(0.25, 4, 16, RandomVocab: 50));
        var (inputs, targets) = Train(data, 9);
        for (int r = 0; r < Batch; r++)
        {
            var sequence = Sequence(inputs, targets, r);
            int natural = sequence.TakeWhile(t => t >= 100).Count(), span = (sequence.Length - natural) / 2;
            if (r >= 4)
            {
                Assert.Equal(sequence.Length, natural);
                continue;
            }
            Assert.InRange(span, 4, 16);
            Assert.Equal(sequence.Length, natural + 2 * span);
            Assert.Equal(0, RepeatLength(sequence[..natural]));
            Assert.All(sequence[natural..], t => Assert.InRange(t, 0, 49));
            Assert.Equal(sequence[natural..(natural + span)], sequence[(natural + span)..]);
        }
    }

    /// <summary>
    /// Placed anywhere: natural text, a random span, the same span again, then the text that the span displaced — at
    /// offsets from the row's start to its end.
    /// </summary>
    [Fact]
    public void SpansPlacedAnywhereRepeatExactlyAndTheTextContinuesAfterThem()
    {
        var data = new CorpusTrainingData(_train, _validation, new RepeatMix(0.25, 4, 8, RandomVocab: 50, Anywhere: true));
        var starts = new List<int>();
        for (int step = 1; step <= 100; step++)
        {
            var (inputs, targets) = Train(data, step);
            for (int r = 0; r < 4; r++)
            {
                var sequence = Sequence(inputs, targets, r);
                int start = Array.FindIndex(sequence, t => t < 50), span = sequence.Count(t => t < 50) / 2;
                Assert.InRange(span, 4, 8);
                Assert.All(sequence[start..(start + 2 * span)], t => Assert.InRange(t, 0, 49));
                Assert.Equal(sequence[start..(start + span)], sequence[(start + span)..(start + 2 * span)]);
                // The natural text is one ascending run of Context + 1 − span tokens with the spans cut into it.
                var natural = sequence.Where(t => t >= 100).ToArray();
                Assert.Equal(Context + 1 - 2 * span, natural.Length);
                Assert.All(Enumerable.Range(1, natural.Length - 1), i => Assert.Equal(natural[i - 1] + (i == start ? span + 1 : 1), natural[i]));
                starts.Add(start);
            }
            Assert.All(Enumerable.Range(4, Batch - 4), r => Assert.DoesNotContain(Sequence(inputs, targets, r), t => t < 100));
        }
        Assert.Contains(0, starts);
        Assert.Contains(starts, s => s > 0 && s < Context / 2);
        Assert.Contains(starts, s => s >= Context / 2);
    }

    [Fact]
    public void FractionIsHonouredInExpectation()
    {
        var data = new CorpusTrainingData(_train, _validation, new RepeatMix(0.1, 8, 16));
        int rows = 0, batches = 500;
        for (int step = 1; step <= batches; step++)
        {
            int repeats = RepeatLengths(data, step).Count(l => l > 0);
            Assert.InRange(repeats, 1, 2); // ⌊1.6⌋ or one more
            rows += repeats;
        }
        // 1.6 rows per batch; a binomial share of 0.6 over 500 batches has standard deviation 0.022 rows.
        Assert.InRange((double)rows / batches / Batch, 0.1 - 0.006, 0.1 + 0.006);
    }

    [Fact]
    public void BatchesAreAFunctionOfSeedStepAndMicroBatch()
    {
        var mix = new RepeatMix(0.5, 4, 16);
        using var other = new CorpusTrainingData(TokenDataset.Open(_train.Path), TokenDataset.Open(_validation.Path), mix);
        var data = new CorpusTrainingData(_train, _validation, mix);
        Assert.Equal(Train(data, 5).Inputs, Train(other, 5).Inputs);
        Assert.Equal(Train(data, 5, micro: 1).Targets, Train(other, 5, micro: 1).Targets);
        Assert.NotEqual(Train(data, 5).Inputs, Train(data, 6).Inputs);
        Assert.NotEqual(Train(data, 5).Inputs, Train(data, 5, micro: 1).Inputs);
    }

    [Fact]
    public void WithoutRepeatsBatchesAreUnchangedAndValidationNeverChanges()
    {
        var plain = new CorpusTrainingData(_train, _validation);
        var none = new CorpusTrainingData(_train, _validation, new RepeatMix(0, 4, 16));
        var mixed = new CorpusTrainingData(_train, _validation, new RepeatMix(1, 4, 16));
        Assert.Equal(Train(plain, 3).Inputs, Train(none, 3).Inputs);
        Assert.All(RepeatLengths(mixed, 3), l => Assert.InRange(l, 4, 16));
        for (int index = 0; index < 4; index++)
        {
            var expected = Validation(plain, index);
            var actual = Validation(mixed, index);
            Assert.Equal(expected.Inputs, actual.Inputs);
            Assert.Equal(expected.Targets, actual.Targets);
            // Evenly spaced natural windows of the validation split only.
            for (int r = 0; r < Batch; r++)
            {
                var sequence = Sequence(expected.Inputs, expected.Targets, r);
                Assert.Equal(0, RepeatLength(sequence));
                Assert.InRange(sequence[0], 40_000, 45_000 - Context - 1);
            }
        }
    }

    private static (int[] Inputs, int[] Targets) Validation(CorpusTrainingData data, int index)
    {
        var (inputs, targets) = (new int[Batch * Context], new int[Batch * Context]);
        data.FillValidationBatch(index, 4, Batch, Context, inputs, targets);
        return (inputs, targets);
    }

    [Theory]
    [InlineData("\"repeat_fraction\": -0.1", "repeat_fraction must be in [0, 1]")]
    [InlineData("\"repeat_span\": [0, 8]", "repeat_span must be [min, max]")]
    [InlineData("\"repeat_span\": [8, 4]", "repeat_span must be [min, max]")]
    [InlineData("\"repeat_span\": [8, 17]", "(context + 1) / 2 = 16")]
    [InlineData("\"repeat_span\": [8]", "repeat_span must be [min, max]")]
    [InlineData("\"repeat_tokens\": \"noise\"", "repeat_tokens must be corpus or random, got 'noise'")]
    [InlineData("\"repeat_position\": \"middle\"", "repeat_position must be end or anywhere, got 'middle'")]
    [InlineData("\"repeat_fraction\": 0.1, \"data\": \"repeated_random_tokens\", \"vocab_size\": 64", "repeat_fraction needs data corpus")]
    public void ImpossibleRepeatMixesAreRejected(string field, string message)
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $"{{\"context\": 32, {field}}}");
        var e = Assert.Throws<ArgumentException>(() => TrainConfig.Load(path).Validate());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void DefaultSpanRunsFromAnEighthToHalfTheContext()
    {
        Assert.Equal(new RepeatMix(0.1, 32, 128), new TrainConfig { Context = 256, RepeatFraction = 0.1 }.Repeats(8192));
        Assert.Equal(new RepeatMix(0.2, 5, 9, 8192), new TrainConfig { Context = 256, RepeatFraction = 0.2, RepeatSpan = [5, 9], RepeatTokens = "random" }.Repeats(8192));
        Assert.Equal(new RepeatMix(0.2, 32, 128, 0, Anywhere: true), new TrainConfig { Context = 256, RepeatFraction = 0.2, RepeatPosition = "anywhere" }.Repeats(8192));
    }

    public void Dispose()
    {
        _train.Dispose();
        _validation.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>One scored item: the target and foil logits at the prompt's last position.</summary>
/// <param name="TargetId">The first token of the target as a continuation of the prompt.</param>
/// <param name="TargetTokens">How many tokens the target is as a continuation (only the first is compared).</param>
public sealed record ScoredItem(ScoreItem Item, int TargetId, int FoilId, int TargetTokens, int FoilTokens, float TargetLogit, float FoilLogit)
{
    public float LogitDiff => TargetLogit - FoilLogit;

    /// <summary>The target's logit is strictly above the foil's.</summary>
    public bool Correct => TargetLogit > FoilLogit;
}

/// <summary>Scores of a set of items: accuracy overall and per "group".</summary>
public sealed record ScoreReport(IReadOnlyList<ScoredItem> Items)
{
    public double Accuracy => Items.Count == 0 ? 0 : Items.Count(i => i.Correct) / (double)Items.Count;

    /// <summary>Accuracy of each group, in the order groups first appear; empty when no item has a group.</summary>
    public IReadOnlyList<(string Group, int Count, double Accuracy)> Groups =>
        Items.Where(i => i.Item.Group is not null).GroupBy(i => i.Item.Group!)
            .Select(g => (g.Key, g.Count(), g.Count(i => i.Correct) / (double)g.Count())).ToList();
}

/// <summary>
/// Target-vs-foil logit differences at the last prompt position. The prompt is encoded with the model's BOS rule
/// (<see cref="LoadedModel.Encode"/>); target and foil are continuations: their tokens are those that follow the
/// prompt's tokens in the encoding of prompt+target, so a byte-level BPE keeps a leading space inside the token
/// (" an") and a SentencePiece tokenizer adds no dummy-prefix piece. Items are run in left-padded batches.
/// </summary>
public static class Scorer
{
    public const int DefaultBatchSize = 16;

    public static ScoreReport Score(LoadedModel model, IReadOnlyList<ScoreItem> items, int batchSize = DefaultBatchSize)
    {
        var prompts = new List<int[]>(items.Count);
        var targets = new List<int[]>(items.Count);
        var foils = new List<int[]>(items.Count);
        foreach (var item in items)
        {
            var prompt = Continuations.EncodePrompt(model, item.Prompt, item.Source);
            prompts.Add(prompt);
            targets.Add(Continuations.Encode(model, item.Prompt, prompt, item.Target, item.Source));
            foils.Add(Continuations.Encode(model, item.Prompt, prompt, item.Foil, item.Source));
        }
        var logits = Continuations.LastLogits(model, prompts, batchSize);
        var scored = new ScoredItem[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            int t = targets[i][0], f = foils[i][0];
            scored[i] = new ScoredItem(items[i], t, f, targets[i].Length, foils[i].Length, logits[i][t], logits[i][f]);
        }
        return new ScoreReport(scored);
    }
}

/// <summary>Encoding continuations of a prompt, and last-position logits of many prompts.</summary>
public static class Continuations
{
    public static int[] EncodePrompt(LoadedModel model, string prompt, string? source)
    {
        try
        {
            return model.Encode(prompt);
        }
        catch (ArgumentException e) when (source is not null)
        {
            throw new ArgumentException($"{source}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The tokens of <paramref name="continuation"/> as it continues <paramref name="prompt"/>: the tokens after
    /// <paramref name="promptIds"/> in the encoding of prompt+continuation (with the same BOS rule). Fails when the
    /// prompt's tokens are not a prefix of that encoding (the continuation merges with the prompt's last token).
    /// </summary>
    public static int[] Encode(LoadedModel model, string prompt, int[] promptIds, string continuation, string? source)
    {
        bool bos = model.Model.Config.AddBos && model.Tokenizer.Bos is not null;
        var full = model.Tokenizer.Encode(prompt + continuation, bos);
        string where = source is null ? "" : source + ": ";
        if (full.Length <= promptIds.Length || !full.AsSpan(0, promptIds.Length).SequenceEqual(promptIds))
            throw new InvalidDataException(
                $"{where}\"{continuation}\" does not continue the prompt's tokens (it merges with the prompt's end or adds no token); " +
                "start it with a space or end the prompt at a token boundary");
        return full[promptIds.Length..];
    }

    /// <summary>Logits of the last position of each prompt, run in left-padded batches of <paramref name="batchSize"/>.</summary>
    public static float[][] LastLogits(LoadedModel model, IReadOnlyList<int[]> prompts, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "the batch size must be at least 1");
        int vocab = model.Model.Config.VocabSize;
        int pad = model.Tokenizer.Eos ?? model.Tokenizer.Bos ?? 0;
        var result = new float[prompts.Count][];
        for (int start = 0; start < prompts.Count; start += batchSize)
        {
            var chunk = prompts.Skip(start).Take(batchSize).ToList();
            var batch = TokenBatch.LeftPadded(chunk.Cast<IReadOnlyList<int>>().ToList(), pad);
            // Left padding puts every prompt's last token at the last position.
            var logits = model.Model.Forward(Compute.Eager, batch, lastPositionOnly: true).ToArray();
            for (int b = 0; b < chunk.Count; b++) result[start + b] = logits.AsSpan(b * vocab, vocab).ToArray();
        }
        return result;
    }
}

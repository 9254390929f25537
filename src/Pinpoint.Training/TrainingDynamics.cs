using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Training;

/// <summary>
/// Measures the model during training; the trainer records every named value in metrics.jsonl at each evaluation
/// and checkpoint. <paramref name="tokenizer"/> is the run's tokenizer (null for token-level data).
/// </summary>
public delegate IReadOnlyDictionary<string, double> TrainingProbe(HookedTransformer model, ITokenizer? tokenizer);

/// <summary>
/// Mechanism metrics recorded during training, measured on repeated random token sequences (the standard
/// induction-head probe): attention from each token in the second copy to the token after its earlier occurrence
/// (induction) or to the immediately preceding token (previous-token), and the loss drop on the repeated half.
/// Other metrics (e.g. accuracy on a score dataset) come from a caller's own <see cref="TrainingProbe"/>.
/// </summary>
public static class TrainingDynamics
{
    public const int SequenceLength = 48;
    public const int Sequences = 4;
    public const string InductionMetric = "induction";
    public const string PreviousTokenMetric = "prev_token";
    /// <summary>Seed of the repeated sequences the probe measures on, so a later analysis of the checkpoints reads the same numbers.</summary>
    public const int ProbeSeed = 12345;

    /// <summary>A probe for <paramref name="metrics"/>, each of which must be <see cref="InductionMetric"/> or <see cref="PreviousTokenMetric"/>.</summary>
    public static TrainingProbe Probe(IEnumerable<string> metrics)
    {
        var wanted = metrics.ToHashSet();
        if (wanted.FirstOrDefault(m => m is not (InductionMetric or PreviousTokenMetric)) is { } unknown)
            throw new ArgumentException($"invalid training config: metric '{unknown}' is not a training-dynamics metric ({InductionMetric}, {PreviousTokenMetric}); score datasets are measured by a probe such as Pinpoint.Interpretability's TrainingMetrics.Probe");
        return (model, _) => Measure(model, wanted);
    }

    private static Dictionary<string, double> Measure(HookedTransformer model, HashSet<string> wanted)
    {
        var result = new Dictionary<string, double>();
        if (wanted.Count == 0) return result;
        var scores = RepeatedSequenceScores(model, ProbeSeed);
        if (wanted.Contains(InductionMetric))
        {
            result["induction_score"] = scores.Induction.Max();
            result["first_half_loss"] = scores.FirstHalfLoss;
            result["repeated_half_loss"] = scores.RepeatedHalfLoss;
        }
        if (wanted.Contains(PreviousTokenMetric)) result["prev_token_score"] = scores.PreviousToken.Max();
        return result;
    }

    /// <summary>Per-head scores (index layer × heads + head) and mean losses on the two halves.</summary>
    public sealed record Scores(double[] Induction, double[] PreviousToken, double FirstHalfLoss, double RepeatedHalfLoss);

    public static Scores RepeatedSequenceScores(HookedTransformer model, int seed)
    {
        var c = model.Config;
        int r = Math.Min(SequenceLength, (c.ContextLength - 1) / 2);
        var random = new Random(seed);
        int lowId = Math.Min(c.VocabSize / 4, 256);
        var ids = new int[Sequences * 2 * r];
        for (int b = 0; b < Sequences; b++)
            for (int t = 0; t < r; t++)
                ids[b * 2 * r + t] = ids[b * 2 * r + r + t] = random.Next(lowId, c.VocabSize);
        var batch = new TokenBatch(Sequences, 2 * r, ids);
        var (logits, cache) = model.RunWithCache(batch, name => name.EndsWith("hook_pattern", StringComparison.Ordinal));

        var induction = new double[c.NLayers * c.NHeads];
        var previous = new double[c.NLayers * c.NHeads];
        int len = 2 * r;
        for (int l = 0; l < c.NLayers; l++)
        {
            var pattern = cache[HookNames.Pattern(l)].Contiguous().Span; // [B, H, T, S]
            for (int h = 0; h < c.NHeads; h++)
            {
                double ind = 0, prev = 0;
                for (int b = 0; b < Sequences; b++)
                {
                    int rowBase = ((b * c.NHeads) + h) * len * len;
                    for (int t = r; t < len; t++)
                    {
                        ind += pattern[rowBase + t * len + (t - r + 1)];
                        prev += pattern[rowBase + t * len + (t - 1)];
                    }
                }
                int n = Sequences * r;
                induction[l * c.NHeads + h] = ind / n;
                previous[l * c.NHeads + h] = prev / n;
            }
        }

        var logitRows = logits.Contiguous().Span;
        double first = 0, repeated = 0;
        for (int b = 0; b < Sequences; b++)
            for (int t = 0; t < len - 1; t++)
            {
                var row = logitRows.Slice((b * len + t) * c.VocabSize, c.VocabSize);
                double loss = LogSumExp(row) - row[ids[b * len + t + 1]];
                if (t < r - 1) first += loss; else if (t >= r) repeated += loss;
            }
        return new Scores(induction, previous, first / (Sequences * (r - 1)), repeated / (Sequences * (r - 1)));
    }

    private static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row) max = Math.Max(max, v);
        double sum = 0;
        foreach (var v in row) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>How a component's output is replaced when it is knocked out.</summary>
public enum AblationKind
{
    /// <summary>Its mean output over a reference set of prompts (every position).</summary>
    Mean,
    /// <summary>Its output on the counterfactual prompt.</summary>
    Resample,
}

/// <summary>Share of the clean logit difference removed when the top-k components (or random k of the same kinds) are ablated together.</summary>
public sealed record VerificationResult(
    AblationKind Kind, int K, double TopKFractionRemoved, double RandomKFractionRemoved, IReadOnlyList<double> Curve, IReadOnlyList<double> RandomCurve);

/// <summary>
/// Causal check of a ranking: ablate the top-k heads and MLPs together and measure how much of the clean logit
/// difference disappears, beside the average over random sets of k components of the same kinds.
/// </summary>
public static class Verification
{
    public const int RandomDraws = 8;

    public static VerificationResult Run(HookedTransformer model, int[] clean, int[] counterfactual, IReadOnlyList<int[]> reference,
        LogitDiffReadout readout, IReadOnlyList<Component> ranked, int k, AblationKind kind, int seed = 0)
    {
        var c = model.Config;
        var candidates = ranked.Where(x => x.Kind is ComponentKind.Head or ComponentKind.Mlp).ToList();
        k = Math.Min(k, candidates.Count);
        var replacement = kind == AblationKind.Mean ? MeanOutputs(model, reference) : CounterfactualOutputs(model, counterfactual);
        double cleanDiff = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(clean), []));
        double Removed(IEnumerable<Component> set)
        {
            var hooks = set.Select(x => x.Kind == ComponentKind.Head
                ? (HookNames.Z(x.Layer), (HookFunction)((z, _) => ReplaceHead(z, replacement[HookNames.Z(x.Layer)], x.Index, c.NHeads)))
                : (HookNames.MlpOut(x.Layer), (HookFunction)((o, _) => ReplaceAll(o, replacement[HookNames.MlpOut(x.Layer)]))));
            double ablated = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(clean), hooks.ToList()));
            return Math.Abs(cleanDiff) < 1e-12 ? 0 : (cleanDiff - ablated) / cleanDiff;
        }

        var pool = AllComponents(c);
        var random = new Random(seed);
        var curve = new List<double>();
        var randomCurve = new List<double>();
        for (int n = 1; n <= k; n++)
        {
            curve.Add(Removed(candidates.Take(n)));
            // Random sets keep the top set's mix of kinds, so heads are compared with heads and MLPs with MLPs.
            var heads = candidates.Take(n).Count(x => x.Kind == ComponentKind.Head);
            double sum = 0;
            for (int draw = 0; draw < RandomDraws; draw++)
            {
                var set = pool.Where(x => x.Kind == ComponentKind.Head).OrderBy(_ => random.Next()).Take(heads)
                    .Concat(pool.Where(x => x.Kind == ComponentKind.Mlp).OrderBy(_ => random.Next()).Take(n - heads));
                sum += Removed(set);
            }
            randomCurve.Add(sum / RandomDraws);
        }
        return new VerificationResult(kind, k, k > 0 ? curve[^1] : 0, k > 0 ? randomCurve[^1] : 0, curve, randomCurve);
    }

    public static List<Component> AllComponents(TransformerConfig c)
    {
        var all = new List<Component>();
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) all.Add(new Component(ComponentKind.Head, l, h));
            if (!c.AttentionOnly) all.Add(new Component(ComponentKind.Mlp, l, 0));
        }
        return all;
    }

    private static IEnumerable<string> Points(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => c.AttentionOnly ? new[] { HookNames.Z(l) } : [HookNames.Z(l), HookNames.MlpOut(l)]);

    /// <summary>Mean of each hook_z / hook_mlp_out row over every position of every reference prompt.</summary>
    private static Dictionary<string, float[]> MeanOutputs(HookedTransformer model, IReadOnlyList<int[]> reference)
    {
        if (reference.Count == 0) throw new ArgumentException("mean ablation needs at least one reference prompt");
        var names = Points(model.Config).ToHashSet();
        var sums = new Dictionary<string, double[]>();
        long rows = 0;
        foreach (var ids in reference)
        {
            var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), names.Contains);
            rows += ids.Length;
            foreach (var name in names)
            {
                var act = cache[name].Contiguous().Span;
                int width = act.Length / ids.Length;
                var sum = sums.TryGetValue(name, out var s) ? s : sums[name] = new double[width];
                for (int i = 0; i < act.Length; i++) sum[i % width] += act[i];
            }
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => (float)(v / rows)).ToArray());
    }

    /// <summary>Counterfactual outputs, position by position (the prompts have equal length).</summary>
    private static Dictionary<string, float[]> CounterfactualOutputs(HookedTransformer model, int[] counterfactual)
    {
        var names = Points(model.Config).ToHashSet();
        var (_, cache) = model.RunWithCache(TokenBatch.Single(counterfactual), names.Contains);
        return names.ToDictionary(n => n, n => cache[n].ToArray());
    }

    /// <summary>Rows of <paramref name="activation"/> replaced by <paramref name="values"/> (one row broadcast, or a full tensor).</summary>
    private static Tensor ReplaceAll(Tensor activation, float[] values)
    {
        var result = activation.Clone();
        var span = result.Span;
        if (values.Length == span.Length)
        {
            values.CopyTo(span);
            return result;
        }
        for (int o = 0; o < span.Length; o += values.Length) values.CopyTo(span.Slice(o, values.Length));
        return result;
    }

    /// <summary>Head <paramref name="head"/> of hook_z [1, T, H, D] replaced at every position.</summary>
    private static Tensor ReplaceHead(Tensor z, float[] values, int head, int heads)
    {
        var result = z.Clone();
        var span = result.Span;
        int d = z.Dim(3), row = heads * d;
        bool perPosition = values.Length == span.Length;
        for (int p = 0; p < z.Dim(1); p++)
        {
            var source = perPosition ? values.AsSpan(p * row + head * d, d) : values.AsSpan(head * d, d);
            source.CopyTo(span.Slice(p * row + head * d, d));
        }
        return result;
    }
}

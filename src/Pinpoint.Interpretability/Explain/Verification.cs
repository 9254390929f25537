using System.Text.Json.Serialization;
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
    [property: JsonIgnore] AblationKind Kind, int K, double TopKFractionRemoved, double RandomKFractionRemoved, IReadOnlyList<double> Curve, IReadOnlyList<double> RandomCurve);

/// <summary>
/// Causal check of a ranking: ablate the top-k components (heads, MLP layers or single neurons) together and
/// measure how much of the clean logit difference disappears, beside the average over random sets of k components
/// with the same mix of kinds.
/// </summary>
public static class Verification
{
    public const int RandomDraws = 8;

    public static VerificationResult Run(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, IReadOnlyList<int[]> reference,
        AnswerMetric metric, IReadOnlyList<Component> ranked, int k, AblationKind kind, int seed = 0)
    {
        var plan = Plan(model.Config, ranked, k, seed);
        var replacement = Replacements(model, kind, counterfactual, reference);
        double cleanDiff = metric.FromLogits(model.RunWithHooks(clean, [], lastPositionOnly: metric.LastPositionOnly));
        return plan.Result(kind, cleanDiff, set => AblatedDiff(model, clean, metric, replacement, set));
    }

    /// <summary>
    /// The sets a check ablates: the top n of the ranked heads, MLPs and neurons for n = 1..k, and for each n
    /// <see cref="RandomDraws"/> random sets with the same mix of kinds (see <see cref="RandomSet"/>), drawn from <paramref name="seed"/>.
    /// </summary>
    public static AblationPlan Plan(TransformerConfig c, IReadOnlyList<Component> ranked, int k, int seed)
    {
        var candidates = ranked.Where(x => x.Kind is ComponentKind.Head or ComponentKind.Mlp or ComponentKind.Neuron).ToList();
        k = Math.Min(k, candidates.Count);
        var pool = AllComponents(c);
        var random = new Random(seed);
        var top = new List<Component[]>();
        var randomSets = new List<Component[][]>();
        for (int n = 1; n <= k; n++)
        {
            top.Add(candidates.Take(n).ToArray());
            var mix = candidates.Take(n).GroupBy(x => x.Kind).ToList();
            randomSets.Add(Enumerable.Range(0, RandomDraws).Select(_ => RandomSet(mix, pool, random)).ToArray());
        }
        return new AblationPlan(top, randomSets);
    }

    /// <summary>
    /// A random set with the top set's mix of kinds, so heads are compared with heads and neurons with neurons — where a
    /// kind has at least twice the components needed. Otherwise (all four MLPs of a 4-layer model, say) a draw of that
    /// kind would be the top set itself, so those places are drawn from all heads and MLPs.
    /// </summary>
    private static Component[] RandomSet(List<IGrouping<ComponentKind, Component>> mix, List<Component> pool, Random random)
    {
        var set = new List<Component>();
        foreach (var kind in mix)
        {
            var ofKind = pool.Where(x => x.Kind == kind.Key).ToList();
            var source = ofKind.Count >= 2 * kind.Count() ? ofKind : pool.Where(x => x.Kind is ComponentKind.Head or ComponentKind.Mlp).ToList();
            set.AddRange(source.Except(set).OrderBy(_ => random.Next()).Take(kind.Count()));
        }
        return set.ToArray();
    }

    /// <summary>What ablation puts in place of each head, MLP and neuron output: their means over the reference prompts, or the counterfactual's.</summary>
    /// <param name="counterfactual">The counterfactual run (resample ablation needs it, mean ablation does not).</param>
    public static Dictionary<string, float[]> Replacements(HookedTransformer model, AblationKind kind, TokenBatch? counterfactual, IReadOnlyList<int[]> reference) =>
        kind == AblationKind.Mean ? MeanOutputs(model, reference)
            : CounterfactualOutputs(model, counterfactual ?? throw new ArgumentException("resample ablation needs the counterfactual run"));

    /// <summary>The logit difference of the clean prompt with every component of <paramref name="set"/> replaced together.</summary>
    public static double AblatedDiff(HookedTransformer model, TokenBatch clean, AnswerMetric metric, Dictionary<string, float[]> replacement, IEnumerable<Component> set)
    {
        var c = model.Config;
        var hooks = set.Select(x => x.Kind switch
        {
            ComponentKind.Head => (HookNames.Z(x.Layer), (HookFunction)((z, _) => ActivationPatching.ReplaceColumns(z, replacement[HookNames.Z(x.Layer)], x.Index * c.DHead, c.DHead))),
            ComponentKind.Neuron => (HookNames.MlpPost(x.Layer), (HookFunction)((p, _) => ActivationPatching.ReplaceColumns(p, replacement[HookNames.MlpPost(x.Layer)], x.Index, 1))),
            ComponentKind.Mlp => (HookNames.MlpOut(x.Layer), (HookFunction)((o, _) => ActivationPatching.ReplaceColumns(o, replacement[HookNames.MlpOut(x.Layer)], 0, c.DModel))),
            _ => throw new ArgumentException($"{x.Name} cannot be ablated (heads, MLPs and neurons can)"),
        });
        return metric.FromLogits(model.RunWithHooks(clean, hooks.ToList(), lastPositionOnly: metric.LastPositionOnly));
    }

    public static List<Component> AllComponents(TransformerConfig c)
    {
        var all = new List<Component>();
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) all.Add(new Component(ComponentKind.Head, l, h));
            if (c.AttentionOnly) continue;
            all.Add(new Component(ComponentKind.Mlp, l, 0));
            for (int n = 0; n < c.DMlp; n++) all.Add(new Component(ComponentKind.Neuron, l, n));
        }
        return all;
    }

    private static IEnumerable<string> Points(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => c.AttentionOnly ? new[] { HookNames.Z(l) } : [HookNames.Z(l), HookNames.MlpOut(l), HookNames.MlpPost(l)]);

    /// <summary>Mean of each hook_z / hook_mlp_out row over every position of every reference prompt.</summary>
    private static Dictionary<string, float[]> MeanOutputs(HookedTransformer model, IReadOnlyList<int[]> reference)
    {
        if (reference.Count == 0) throw new ArgumentException("mean ablation needs at least one reference prompt");
        var names = Points(model.Config).ToHashSet();
        var sums = new Dictionary<string, double[]>();
        long rows = 0;
        foreach (var ids in reference)
        {
            var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), names.Contains, lastPositionOnly: true);
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
    private static Dictionary<string, float[]> CounterfactualOutputs(HookedTransformer model, TokenBatch counterfactual)
    {
        var names = Points(model.Config).ToHashSet();
        var (_, cache) = model.RunWithCache(counterfactual, names.Contains, lastPositionOnly: true);
        return names.ToDictionary(n => n, n => cache[n].ToArray());
    }
}

/// <summary>The sets one ablation check knocks out: <see cref="Top"/>[n − 1] is the top n, <see cref="Random"/>[n − 1] its random sets.</summary>
public sealed record AblationPlan(IReadOnlyList<Component[]> Top, IReadOnlyList<Component[][]> Random)
{
    public int K => Top.Count;

    /// <summary>Every set in the order <see cref="Result"/> reads them: per n the top set, then its random draws.</summary>
    public IEnumerable<Component[]> Sets => Top.Zip(Random).SelectMany(p => p.Second.Prepend(p.First));

    /// <summary>The check's shares removed, given the clean difference and the ablated difference of each set.</summary>
    public VerificationResult Result(AblationKind kind, double cleanDiff, Func<Component[], double> ablatedDiff)
    {
        double Removed(Component[] set) => Math.Abs(cleanDiff) < 1e-12 ? 0 : (cleanDiff - ablatedDiff(set)) / cleanDiff;
        var curve = Top.Select(Removed).ToList();
        var randomCurve = Random.Select(draws => draws.Sum(Removed) / draws.Length).ToList();
        return new VerificationResult(kind, K, K > 0 ? curve[^1] : 0, K > 0 ? randomCurve[^1] : 0, curve, randomCurve);
    }
}

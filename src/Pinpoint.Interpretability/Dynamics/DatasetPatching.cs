using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Dynamics;

/// <summary>A dataset item ready for patching: clean and counterfactual ids of equal length, and the target and foil token read at the last position.</summary>
public sealed record PatchPair(int[] Ids, int[] CounterfactualIds, int Target, int Foil);

/// <summary>
/// One pair's attribution-patching estimate (denoising) of every head and MLP layer, in logits: Σ (clean −
/// counterfactual activation) · ∂(logit diff)/∂activation at the counterfactual run, the span-weighted value
/// <see cref="AttributionPatching"/> reports (0 where the two runs' differences are equal).
/// </summary>
/// <param name="Heads">Index layer × heads + head.</param>
public sealed record PairEstimate(double CleanDiff, double CounterfactualDiff, double[] Heads, double[] Mlps);

/// <summary>
/// What <c>dynamics</c> needs of a dataset at every checkpoint, computed over batches instead of item by item:
/// pairs of one token length run together (no padding, so every row computes what its single run computes), one
/// cached clean forward, one taped counterfactual forward and one backward per batch, gradients only at the head
/// and MLP outputs (no residual grid, no neurons).
/// </summary>
public static class DatasetPatching
{
    /// <summary>Sequences per forward: a few hundred rows per GEMM for prompts of 10–20 tokens, as the counterfactual search batches its candidates.</summary>
    public const int BatchSize = 32;

    /// <summary>Estimates for every pair, in order.</summary>
    public static PairEstimate[] Run(HookedTransformer model, IReadOnlyList<PatchPair> pairs, int batchSize = BatchSize, CancellationToken cancel = default)
    {
        var c = model.Config;
        var hooks = HookPoints(c);
        var result = new PairEstimate[pairs.Count];
        foreach (var batch in Batches(pairs.Select(p => p.Ids.Length).ToList(), batchSize))
        {
            cancel.ThrowIfCancellationRequested();
            var (cleanLogits, clean) = model.RunWithCache(Stack(batch, i => pairs[i].Ids), hooks.Contains, lastPositionOnly: true);
            var tape = new Tape();
            var marking = new HookSet(hooks.Contains);
            foreach (var name in hooks) marking.Add(name, (act, _) => { act.RequiresGrad = true; return null; });
            var cfLogits = model.Forward(new Compute(tape), Stack(batch, i => pairs[i].CounterfactualIds), marking, lastPositionOnly: true);
            int vocab = c.VocabSize;
            var seed = Tensor.Zeros(cfLogits.Shape.ToArray());
            for (int b = 0; b < batch.Length; b++)
            {
                seed.Span[b * vocab + pairs[batch[b]].Target] = 1;
                seed.Span[b * vocab + pairs[batch[b]].Foil] = -1;
            }
            tape.Backward(cfLogits, seed);
            var cleanRows = cleanLogits.Contiguous().Span;
            var cfRows = cfLogits.Contiguous().Span;
            var counterfactual = marking.Cache;
            for (int b = 0; b < batch.Length; b++)
            {
                var pair = pairs[batch[b]];
                double cleanDiff = (double)cleanRows[b * vocab + pair.Target] - cleanRows[b * vocab + pair.Foil];
                double cfDiff = (double)cfRows[b * vocab + pair.Target] - cfRows[b * vocab + pair.Foil];
                // AttributionPatching normalises by the span and the caller multiplies it back; a span of 0 gives 0 there.
                bool moves = Math.Abs(cleanDiff - cfDiff) >= 1e-12;
                double[] Moved(string hook, int groups)
                {
                    var sums = new double[groups];
                    var grad = counterfactual[hook].Grad;
                    if (!moves || grad is null) return sums;
                    int rowSize = clean[hook].Size / batch.Length;
                    AttributionPatching.AccumulateMoved(clean[hook].Contiguous().Span.Slice(b * rowSize, rowSize), counterfactual[hook].Contiguous().Span.Slice(b * rowSize, rowSize),
                        grad.Contiguous().Span.Slice(b * rowSize, rowSize), sums, rowSize / pair.Ids.Length / groups);
                    return sums;
                }
                var heads = Enumerable.Range(0, c.NLayers).SelectMany(l => Moved(HookNames.Z(l), c.NHeads)).ToArray();
                var mlps = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Moved(HookNames.MlpOut(l), 1)[0]).ToArray();
                result[batch[b]] = new PairEstimate(cleanDiff, cfDiff, heads, mlps);
            }
        }
        return result;
    }

    /// <summary>
    /// The ablation check of every pair, as <see cref="Verification.Run"/> makes it item by item: each set of the
    /// pair's <paramref name="plans"/> knocked out of its clean run, one batch row per (pair, set).
    /// </summary>
    /// <param name="cleanDiffs">Each pair's clean logit difference (from <see cref="Run"/>: the same forward).</param>
    /// <param name="replacements">What replaces each component's output in pair i's rows (<see cref="Verification.Replacements"/>).</param>
    public static VerificationResult[] Ablate(HookedTransformer model, IReadOnlyList<PatchPair> pairs, IReadOnlyList<double> cleanDiffs,
        IReadOnlyList<AblationPlan> plans, AblationKind kind, Func<int, Dictionary<string, float[]>> replacements, int batchSize = BatchSize, CancellationToken cancel = default)
    {
        var rows = pairs.SelectMany((_, i) => plans[i].Sets.Select(set => (Pair: i, Set: set))).ToList();
        var ablated = new Dictionary<Component[], double>(ReferenceEqualityComparer.Instance);
        var replacementOf = new Dictionary<string, float[]>[pairs.Count];
        foreach (var batch in Batches(rows.Select(r => pairs[r.Pair].Ids.Length).ToList(), batchSize))
        {
            cancel.ThrowIfCancellationRequested();
            var batchRows = batch.Select(r => rows[r]).ToArray();
            foreach (var (pair, _) in batchRows) replacementOf[pair] ??= replacements(pair);
            var hooks = new HookSet();
            foreach (var hook in batchRows.SelectMany(r => r.Set).Select(x => HookOf(model.Config, x)).Distinct())
                hooks.Add(hook, (act, _) => ReplaceRows(model.Config, act, hook, batchRows, replacementOf));
            var logits = model.Forward(Compute.Eager, Stack(batch, r => pairs[rows[r].Pair].Ids), hooks, lastPositionOnly: true).Contiguous().Span;
            int vocab = model.Config.VocabSize;
            for (int b = 0; b < batchRows.Length; b++)
            {
                var pair = pairs[batchRows[b].Pair];
                ablated[batchRows[b].Set] = (double)logits[b * vocab + pair.Target] - logits[b * vocab + pair.Foil];
            }
        }
        return pairs.Select((_, i) => plans[i].Result(kind, cleanDiffs[i], set => ablated[set])).ToArray();
    }

    private static string HookOf(TransformerConfig c, Component x) => x.Kind switch
    {
        ComponentKind.Head => HookNames.Z(x.Layer),
        ComponentKind.Mlp => HookNames.MlpOut(x.Layer),
        _ => throw new ArgumentException($"{x.Name} cannot be ablated here (heads and MLPs can)"),
    };

    /// <summary>The activation at <paramref name="hook"/> with, in each row, the outputs of that row's set at this hook replaced.</summary>
    private static Tensor ReplaceRows(TransformerConfig c, Tensor activation, string hook, (int Pair, Component[] Set)[] rows, Dictionary<string, float[]>[] replacements)
    {
        var result = activation.Clone();
        int rowSize = result.Size / rows.Length, positionWidth = rowSize / activation.Dim(1);
        for (int b = 0; b < rows.Length; b++)
            foreach (var x in rows[b].Set)
                if (HookOf(c, x) == hook)
                    ActivationPatching.ReplaceColumns(result.Span.Slice(b * rowSize, rowSize), replacements[rows[b].Pair][hook], positionWidth,
                        x.Kind == ComponentKind.Head ? x.Index * c.DHead : 0, x.Kind == ComponentKind.Head ? c.DHead : c.DModel);
        return result;
    }

    /// <summary>hook_z and hook_mlp_out of every layer: the components dynamics ranks.</summary>
    private static HashSet<string> HookPoints(TransformerConfig c)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int l = 0; l < c.NLayers; l++)
        {
            names.Add(HookNames.Z(l));
            if (!c.AttentionOnly) names.Add(HookNames.MlpOut(l));
        }
        return names;
    }

    /// <summary>Indices grouped by length, in chunks of at most <see cref="BatchSize"/>.</summary>
    public static IEnumerable<int[]> Batches(IReadOnlyList<int> lengths, int batchSize = BatchSize) =>
        Enumerable.Range(0, lengths.Count).GroupBy(i => lengths[i]).SelectMany(g => g.Chunk(batchSize));

    /// <summary>The sequences of <paramref name="rows"/> (all of one length) as one batch.</summary>
    public static TokenBatch Stack(int[] rows, Func<int, int[]> ids)
    {
        int length = ids(rows[0]).Length;
        var all = new int[rows.Length * length];
        for (int b = 0; b < rows.Length; b++) ids(rows[b]).CopyTo(all, b * length);
        return new TokenBatch(rows.Length, length, all);
    }
}

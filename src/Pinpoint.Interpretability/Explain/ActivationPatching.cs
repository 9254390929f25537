using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>Which way activations are copied between the two runs.</summary>
public enum PatchDirection
{
    /// <summary>Counterfactual run, clean activation patched in: share of the clean difference restored.</summary>
    Denoise,
    /// <summary>Clean run, counterfactual activation patched in: share of the clean difference destroyed.</summary>
    Noise,
}

/// <summary>Which activation-patching cells to compute (each costs one forward pass).</summary>
[Flags]
public enum PatchingCells
{
    /// <summary>resid_pre of every layer at every position (the largest group: (layers + 1) × positions).</summary>
    Residual = 1,
    /// <summary>Every attention and MLP output.</summary>
    Outputs = 2,
    /// <summary>Every head.</summary>
    Heads = 4,
    All = Residual | Outputs | Heads,
}

/// <summary>Where a single activation-patching cell patches.</summary>
public enum PatchSite
{
    /// <summary>resid_pre of layer <see cref="PatchCell.Layer"/> (NLayers: the final resid_post) at position <see cref="PatchCell.Index"/>.</summary>
    Residual,
    /// <summary>hook_attn_out of the layer at every position.</summary>
    AttentionOut,
    /// <summary>hook_mlp_out of the layer at every position.</summary>
    MlpOut,
    /// <summary>Head <see cref="PatchCell.Index"/>'s hook_z at every position.</summary>
    Head,
}

/// <summary>One cell of <see cref="PatchingResult"/>'s grids: one forward pass of activation patching.</summary>
public readonly record struct PatchCell(PatchSite Site, int Layer, int Index)
{
    /// <summary>The hook this cell patches.</summary>
    public string Hook(TransformerConfig c) => Site switch
    {
        PatchSite.Residual => Layer < c.NLayers ? HookNames.ResidPre(Layer) : HookNames.ResidPost(c.NLayers - 1),
        PatchSite.AttentionOut => HookNames.AttnOut(Layer),
        PatchSite.MlpOut => HookNames.MlpOut(Layer),
        _ => HookNames.Z(Layer),
    };

    /// <summary>The patched activation from the run's own (<c>act</c>) and the source run's (<c>src</c>).</summary>
    public Tensor Patch(Tensor act, Tensor src) => Site switch
    {
        PatchSite.Residual => ActivationPatching.CopyPositions(act, src, Index, 1),
        PatchSite.Head => ActivationPatching.CopyHead(act, src, Index),
        _ => src.Clone(),
    };

    /// <summary>Every cell of <paramref name="r"/>'s grids with its value, in <see cref="Explainer.Cells"/>' order.</summary>
    public static IEnumerable<(PatchCell Cell, double Value)> Of(PatchingResult r)
    {
        for (int l = 0; l < r.ResidualByLayerPosition.Length; l++)
            for (int p = 0; p < r.ResidualByLayerPosition[l].Length; p++) yield return (new PatchCell(PatchSite.Residual, l, p), r.ResidualByLayerPosition[l][p]);
        for (int l = 0; l < r.AttentionOut.Length; l++) yield return (new PatchCell(PatchSite.AttentionOut, l, 0), r.AttentionOut[l]);
        for (int l = 0; l < r.MlpOut.Length; l++) yield return (new PatchCell(PatchSite.MlpOut, l, 0), r.MlpOut[l]);
        for (int l = 0; l < r.Heads.Length; l++)
            for (int h = 0; h < r.Heads[l].Length; h++) yield return (new PatchCell(PatchSite.Head, l, h), r.Heads[l][h]);
    }
}

/// <summary>Patching effects, each as the share of (clean − counterfactual) logit difference it moves.</summary>
/// <param name="ResidualByLayerPosition">[layer][position]: resid_pre of each block at one position (layer = NLayers is the final residual); empty when not computed.</param>
/// <param name="AttentionOut">Per layer, hook_attn_out at every position.</param>
/// <param name="MlpOut">Per layer, hook_mlp_out at every position (empty for attention-only models).</param>
/// <param name="Heads">[layer][head]: that head's hook_z at every position.</param>
/// <param name="Neurons">[layer][neuron]: that neuron's hook_post at every position (attribution patching only; null otherwise).</param>
public sealed record PatchingResult(
    PatchDirection Direction, double CleanDiff, double CounterfactualDiff,
    double[][] ResidualByLayerPosition, double[] AttentionOut, double[] MlpOut, double[][] Heads, double[][]? Neurons = null);

/// <summary>
/// Activation patching: runs one input with one activation taken from the other input's run, for every residual
/// stream position and layer, every attention and MLP output, and every head. Exact but one forward pass per cell.
/// </summary>
public static class ActivationPatching
{
    /// <param name="cells">Cells left out are empty arrays (e.g. dataset mode needs no residual × position grid from the noising run).</param>
    public static PatchingResult Run(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, PatchDirection direction,
        PatchingCells cells = PatchingCells.All)
    {
        var c = model.Config;
        var patcher = new Patcher(model, clean, counterfactual, metric, direction, AttributionPatching.HookPoints(c));
        int len = clean.Length;
        double Effect(PatchSite site, int layer, int index) => patcher.Effect(new PatchCell(site, layer, index), c);
        var residual = new double[cells.HasFlag(PatchingCells.Residual) ? c.NLayers + 1 : 0][];
        for (int l = 0; l < residual.Length; l++)
        {
            residual[l] = new double[len];
            for (int p = 0; p < len; p++) residual[l][p] = Effect(PatchSite.Residual, l, p);
        }
        bool outputs = cells.HasFlag(PatchingCells.Outputs);
        var attn = outputs ? Enumerable.Range(0, c.NLayers).Select(l => Effect(PatchSite.AttentionOut, l, 0)).ToArray() : [];
        var mlp = c.AttentionOnly || !outputs ? [] : Enumerable.Range(0, c.NLayers).Select(l => Effect(PatchSite.MlpOut, l, 0)).ToArray();
        var heads = new double[cells.HasFlag(PatchingCells.Heads) ? c.NLayers : 0][];
        for (int l = 0; l < heads.Length; l++)
        {
            heads[l] = new double[c.NHeads];
            for (int h = 0; h < c.NHeads; h++) heads[l][h] = Effect(PatchSite.Head, l, h);
        }
        return new PatchingResult(direction, patcher.CleanDiff, patcher.CounterfactualDiff, residual, attn, mlp, heads);
    }

    /// <summary>
    /// Exact patching of chosen cells only (one forward each), e.g. the ones attribution patching ranks highest; values
    /// as in <see cref="Run"/>, in the order of <paramref name="cells"/>, with the two runs' metric values.
    /// </summary>
    public static (double[] Effects, double CleanDiff, double CounterfactualDiff) Cells(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual,
        AnswerMetric metric, PatchDirection direction, IReadOnlyList<PatchCell> cells)
    {
        var c = model.Config;
        var patcher = new Patcher(model, clean, counterfactual, metric, direction, cells.Select(cell => cell.Hook(c)).ToHashSet());
        return (cells.Select(cell => patcher.Effect(cell, c)).ToArray(), patcher.CleanDiff, patcher.CounterfactualDiff);
    }

    /// <summary>
    /// Exact patching of single neurons (their hook_post column at every position): one forward each, so meant for the
    /// few that attribution patching ranks highest. Values are shares of (clean − counterfactual), as in <see cref="Run"/>.
    /// </summary>
    public static List<Attribution> Neurons(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric,
        PatchDirection direction, IEnumerable<Component> neurons)
    {
        var list = neurons.ToList();
        if (list.Any(n => n.Kind != ComponentKind.Neuron)) throw new ArgumentException("only neurons can be patched one by one here");
        var patcher = new Patcher(model, clean, counterfactual, metric, direction, list.Select(n => HookNames.MlpPost(n.Layer)).ToHashSet());
        return list.Select(n => new Attribution(n, patcher.Effect(HookNames.MlpPost(n.Layer), (act, src) => ReplaceColumns(act, src.ToArray(), n.Index, 1)))).ToList();
    }

    /// <summary>Both runs cached at the hooks to patch; one more forward per patched activation.</summary>
    private sealed class Patcher
    {
        private readonly HookedTransformer _model;
        private readonly AnswerMetric _metric;
        private readonly PatchDirection _direction;
        private readonly TokenBatch _target;
        private readonly ActivationCache _source;
        private readonly double _baseline, _span;

        public Patcher(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, PatchDirection direction, ISet<string> hooks)
        {
            CheckLengths(clean, counterfactual);
            (_model, _metric, _direction) = (model, metric, direction);
            var (cleanLogits, cleanCache) = model.RunWithCache(clean, hooks.Contains, lastPositionOnly: metric.LastPositionOnly);
            var (cfLogits, cfCache) = model.RunWithCache(counterfactual, hooks.Contains, lastPositionOnly: metric.LastPositionOnly);
            (CleanDiff, CounterfactualDiff) = (metric.FromLogits(cleanLogits), metric.FromLogits(cfLogits));
            (_target, _source) = direction == PatchDirection.Denoise ? (counterfactual, cleanCache) : (clean, cfCache);
            _baseline = direction == PatchDirection.Denoise ? CounterfactualDiff : CleanDiff;
            _span = CleanDiff - CounterfactualDiff;
        }

        public double CleanDiff { get; }
        public double CounterfactualDiff { get; }

        public double Effect(PatchCell cell, TransformerConfig c) => Effect(cell.Hook(c), cell.Patch);

        /// <summary>Share of (clean − counterfactual) that patching <paramref name="hook"/> moves in the patching direction.</summary>
        public double Effect(string hook, Func<Tensor, Tensor, Tensor> patch)
        {
            var logits = _model.RunWithHooks(_target, [(hook, (act, name) => patch(act, _source[name]))], lastPositionOnly: _metric.LastPositionOnly);
            double moved = _metric.FromLogits(logits) - _baseline;
            return Math.Abs(_span) < 1e-12 ? 0 : (_direction == PatchDirection.Denoise ? moved : -moved) / _span;
        }
    }

    /// <summary>Position-wise patching pairs the two runs token by token (and sequence by sequence).</summary>
    public static void CheckLengths(TokenBatch clean, TokenBatch counterfactual)
    {
        if (clean.Length != counterfactual.Length)
            throw new ArgumentException($"the clean prompt has {clean.Length} tokens and the counterfactual {counterfactual.Length}; position-wise patching needs equal lengths");
        if (clean.BatchSize != counterfactual.BatchSize)
            throw new ArgumentException($"the clean run has {clean.BatchSize} sequences and the counterfactual {counterfactual.BatchSize}; patching pairs them one to one");
    }

    /// <summary>
    /// A copy of <paramref name="activation"/> [sequences, T, ...] with positions [start, start+count) of every sequence
    /// taken from <paramref name="source"/>.
    /// </summary>
    public static Tensor CopyPositions(Tensor activation, Tensor source, int start, int count)
    {
        var patched = activation.Clone();
        int length = activation.Dim(1), width = activation.Size / (activation.Dim(0) * length);
        var from = source.Contiguous().Span;
        for (int b = 0; b < activation.Dim(0); b++)
        {
            int offset = (b * length + start) * width;
            from.Slice(offset, count * width).CopyTo(patched.Span.Slice(offset, count * width));
        }
        return patched;
    }

    /// <summary>A copy of hook_z [sequences, T, H, D] with head <paramref name="head"/> taken from <paramref name="source"/> at every position.</summary>
    public static Tensor CopyHead(Tensor z, Tensor source, int head) =>
        ReplaceColumns(z, source.ToArray(), head * z.Dim(3), z.Dim(3));

    /// <summary>
    /// Columns [start, start+width) of every position of every sequence of <paramref name="activation"/> [sequences, T, ...]
    /// replaced by <paramref name="values"/>: either one row (a mean, broadcast over positions) or a whole tensor of the same shape.
    /// </summary>
    public static Tensor ReplaceColumns(Tensor activation, float[] values, int start, int width)
    {
        var result = activation.Clone();
        ReplaceColumns(result.Span, values, activation.Size / (activation.Dim(0) * activation.Dim(1)), start, width);
        return result;
    }

    /// <summary>
    /// Columns [start, start+width) of every position of one sequence's activation <paramref name="sequence"/>
    /// (positions of <paramref name="positionWidth"/> values) replaced in place, as <see cref="ReplaceColumns(Tensor, float[], int, int)"/> does.
    /// </summary>
    public static void ReplaceColumns(Span<float> sequence, float[] values, int positionWidth, int start, int width)
    {
        bool perPosition = values.Length == sequence.Length;
        for (int o = 0; o < sequence.Length; o += positionWidth)
            values.AsSpan((perPosition ? o : 0) + start, width).CopyTo(sequence.Slice(o + start, width));
    }
}

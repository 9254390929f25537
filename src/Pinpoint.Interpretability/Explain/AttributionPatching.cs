using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// Attribution patching: the first-order estimate of every activation-patching cell from one forward and one
/// backward pass on the run being patched, (source − activation) · ∂(logit diff)/∂activation, normalised the same
/// way as <see cref="ActivationPatching"/>. Exact wherever the metric is linear in the patched activation.
/// </summary>
public static class AttributionPatching
{
    public static PatchingResult Run(HookedTransformer model, int[] clean, int[] counterfactual, LogitDiffReadout readout, PatchDirection direction)
    {
        ActivationPatching.CheckLengths(clean, counterfactual);
        var c = model.Config;
        var names = HookPoints(c);
        var (sourceIds, baseIds) = direction == PatchDirection.Denoise ? (clean, counterfactual) : (counterfactual, clean);
        // Both runs in one taped batch (the source as row 0, the base as row 1), so the weights are read once for both;
        // only the base row's difference is differentiated.
        var (diffs, activations) = Gradients(model, new TokenBatch(2, clean.Length, [.. sourceIds, .. baseIds]), names, readout, row: 1);
        double cleanDiff = direction == PatchDirection.Denoise ? diffs[0] : diffs[1];
        double cfDiff = direction == PatchDirection.Denoise ? diffs[1] : diffs[0];
        return FromGradients(c, clean.Length, direction, cleanDiff, cfDiff,
            hook => Row(activations[hook], 0), hook => Row(activations[hook], 1), hook => activations[hook].Grad is { } g ? Row(g, 1) : null);
    }

    /// <summary>One sequence's slice of a batched activation (or gradient), flattened.</summary>
    public static float[] Row(Tensor batched, int row)
    {
        int width = batched.Size / batched.Dim(0);
        return batched.Contiguous().Span.Slice(row * width, width).ToArray();
    }

    /// <summary>
    /// Fills every patching cell with (source − base) · gradient, summed over the cell's elements and normalised by
    /// the clean − counterfactual span. <paramref name="source"/> and <paramref name="baseline"/> give one sequence's
    /// activation per hook, <paramref name="gradient"/> ∂diff/∂activation (null where the
    /// metric does not depend on it): the gradient at the base run, or one averaged along a path.
    /// </summary>
    public static PatchingResult FromGradients(TransformerConfig c, int length, PatchDirection direction, double cleanDiff, double cfDiff,
        Func<string, float[]> source, Func<string, float[]> baseline, Func<string, float[]?> gradient)
    {
        double span = cleanDiff - cfDiff;
        double Normalise(double moved) => Math.Abs(span) < 1e-12 ? 0 : (direction == PatchDirection.Denoise ? moved : -moved) / span;

        // (source − base) · grad summed per group: element i belongs to group (i / width) % groups.
        double[] Estimate(string hook, int groups, int width)
        {
            var sums = new double[groups];
            if (gradient(hook) is not { } g) return sums;
            var a = baseline(hook);
            var s = source(hook);
            for (int i = 0; i < a.Length; i++) sums[i / width % groups] += (s[i] - a[i]) * (double)g[i];
            for (int k = 0; k < groups; k++) sums[k] = Normalise(sums[k]);
            return sums;
        }

        var residual = new double[c.NLayers + 1][];
        for (int l = 0; l <= c.NLayers; l++)
            residual[l] = Estimate(l < c.NLayers ? HookNames.ResidPre(l) : HookNames.ResidPost(c.NLayers - 1), length, c.DModel);
        var attn = Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.AttnOut(l), 1, 1)[0]).ToArray();
        var mlp = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.MlpOut(l), 1, 1)[0]).ToArray();
        // hook_z is [1, T, H, D] and hook_post [1, T, d_mlp]: group by head / by neuron across positions.
        var heads = Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.Z(l), c.NHeads, c.DHead)).ToArray();
        var neurons = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.MlpPost(l), c.DMlp, 1)).ToArray();
        return new PatchingResult(direction, cleanDiff, cfDiff, residual, attn, mlp, heads, neurons);
    }

    /// <summary>The hook points whose activations are patched (and so need gradients).</summary>
    public static HashSet<string> HookPoints(TransformerConfig c)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { HookNames.ResidPost(c.NLayers - 1) };
        for (int l = 0; l < c.NLayers; l++)
        {
            names.Add(HookNames.ResidPre(l));
            names.Add(HookNames.AttnOut(l));
            names.Add(HookNames.Z(l));
            if (c.AttentionOnly) continue;
            names.Add(HookNames.MlpOut(l));
            names.Add(HookNames.MlpPost(l));
        }
        return names;
    }

    /// <summary>
    /// One taped forward of <paramref name="batch"/> in which every named activation is marked as needing a gradient,
    /// and one backward of the logit difference at the last position of sequence <paramref name="row"/>. Returns every
    /// sequence's difference and the activations, whose Grad holds ∂diff/∂activation.
    /// </summary>
    /// <param name="replacements">Hook functions run before the activations are marked (so a replaced activation is the one differentiated).</param>
    public static (double[] LogitDiffs, ActivationCache Activations) Gradients(HookedTransformer model, TokenBatch batch, IReadOnlySet<string> names,
        LogitDiffReadout readout, int row, IEnumerable<(string HookName, HookFunction Function)>? replacements = null)
    {
        var tape = new Tape();
        var hooks = new HookSet(names.Contains);
        foreach (var (name, f) in replacements ?? []) hooks.Add(name, f);
        foreach (var name in names)
            hooks.Add(name, (act, _) =>
            {
                act.RequiresGrad = true;
                return null;
            });
        var logits = model.Forward(new Compute(tape), batch, hooks, lastPositionOnly: true);
        BackwardLogitDiff(tape, logits, readout, row);
        return (Enumerable.Range(0, batch.BatchSize).Select(b => readout.FromLogits(logits.Select(0, b))).ToArray(), hooks.Cache);
    }

    /// <summary>Back-propagates the target−foil logit difference at the last position of sequence <paramref name="row"/> of taped <paramref name="logits"/> [B, T, V] (T may be 1).</summary>
    public static void BackwardLogitDiff(Tape tape, Tensor logits, LogitDiffReadout readout, int row = 0)
    {
        var seed = Tensor.Zeros(logits.Shape.ToArray());
        int v = logits.Dim(-1), t = logits.Dim(-2);
        int last = (row * t + t - 1) * v;
        seed.Span[last + readout.Target] = 1f;
        seed.Span[last + readout.Foil] = -1f;
        tape.Backward(logits, seed);
    }
}

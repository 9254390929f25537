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
        var (sourceLogits, source) = model.RunWithCache(TokenBatch.Single(sourceIds), names.Contains);
        var (baseDiff, activations) = Gradients(model, baseIds, names, readout);
        double sourceDiff = readout.FromLogits(sourceLogits);
        double cleanDiff = direction == PatchDirection.Denoise ? sourceDiff : baseDiff;
        double cfDiff = direction == PatchDirection.Denoise ? baseDiff : sourceDiff;
        double span = cleanDiff - cfDiff;
        double Normalise(double moved) => Math.Abs(span) < 1e-12 ? 0 : (direction == PatchDirection.Denoise ? moved : -moved) / span;

        // (source − base) · grad summed per group: element i belongs to group (i / width) % groups.
        double[] Estimate(string hook, int groups, int width)
        {
            var act = activations[hook];
            var a = act.Contiguous().Span;
            var s = source[hook].Contiguous().Span;
            var sums = new double[groups];
            // An activation the metric does not depend on receives no gradient at all.
            if (act.Grad is not { } grad) return sums;
            var g = grad.Span;
            for (int i = 0; i < a.Length; i++) sums[i / width % groups] += (s[i] - a[i]) * (double)g[i];
            for (int k = 0; k < groups; k++) sums[k] = Normalise(sums[k]);
            return sums;
        }

        int len = clean.Length;
        var residual = new double[c.NLayers + 1][];
        for (int l = 0; l <= c.NLayers; l++)
            residual[l] = Estimate(l < c.NLayers ? HookNames.ResidPre(l) : HookNames.ResidPost(c.NLayers - 1), len, c.DModel);
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
    /// One taped forward of <paramref name="ids"/> in which every named activation is marked as needing a gradient,
    /// and one backward of the logit difference at the last position. Returns the difference and the activations,
    /// whose Grad holds ∂diff/∂activation.
    /// </summary>
    public static (double LogitDiff, ActivationCache Activations) Gradients(HookedTransformer model, int[] ids, IReadOnlySet<string> names, LogitDiffReadout readout)
    {
        var tape = new Tape();
        var hooks = new HookSet(names.Contains);
        foreach (var name in names)
            hooks.Add(name, (act, _) =>
            {
                act.RequiresGrad = true;
                return null;
            });
        var logits = model.Forward(new Compute(tape), TokenBatch.Single(ids), hooks);
        var seed = Tensor.Zeros(logits.Shape.ToArray());
        int v = logits.Dim(-1), last = logits.Dim(-2) - 1;
        seed.Span[last * v + readout.Target] = 1f;
        seed.Span[last * v + readout.Foil] = -1f;
        tape.Backward(logits, seed);
        return (readout.FromLogits(logits), hooks.Cache);
    }
}

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
        if (clean.Length != counterfactual.Length)
            throw new ArgumentException($"the clean prompt has {clean.Length} tokens and the counterfactual {counterfactual.Length}; position-wise patching needs equal lengths");
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

        int len = clean.Length;
        // (source − base) · grad, summed over the cells that the selector keeps.
        double Estimate(string hook, Func<int, bool> keep, int width)
        {
            var act = activations[hook];
            // An activation the metric does not depend on receives no gradient at all.
            var grad = act.Grad is { } g ? g.Span : new float[act.Size];
            var a = act.Contiguous().Span;
            var s = source[hook].Contiguous().Span;
            double sum = 0;
            for (int i = 0; i < a.Length; i++)
                if (keep(i / width)) sum += (s[i] - a[i]) * (double)grad[i];
            return Normalise(sum);
        }

        var residual = new double[c.NLayers + 1][];
        for (int l = 0; l <= c.NLayers; l++)
        {
            string hook = l < c.NLayers ? HookNames.ResidPre(l) : HookNames.ResidPost(c.NLayers - 1);
            residual[l] = new double[len];
            for (int p = 0; p < len; p++)
            {
                int position = p;
                residual[l][p] = Estimate(hook, cell => cell == position, c.DModel);
            }
        }
        var attn = Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.AttnOut(l), _ => true, 1)).ToArray();
        var mlp = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.MlpOut(l), _ => true, 1)).ToArray();
        var heads = new double[c.NLayers][];
        for (int l = 0; l < c.NLayers; l++)
        {
            heads[l] = new double[c.NHeads];
            for (int h = 0; h < c.NHeads; h++)
            {
                int head = h;
                // hook_z is [1, T, H, D]: cell index i / D runs over (position, head) pairs.
                heads[l][h] = Estimate(HookNames.Z(l), cell => cell % c.NHeads == head, c.DHead);
            }
        }
        return new PatchingResult(direction, cleanDiff, cfDiff, residual, attn, mlp, heads);
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
            if (!c.AttentionOnly) names.Add(HookNames.MlpOut(l));
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

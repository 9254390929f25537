using System.Runtime.CompilerServices;
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
    public static PatchingResult Run(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, PatchDirection direction)
    {
        ActivationPatching.CheckLengths(clean, counterfactual);
        var c = model.Config;
        var names = HookPoints(c);
        var (sourceIds, baseIds) = direction == PatchDirection.Denoise ? (clean, counterfactual) : (counterfactual, clean);
        // The source run only supplies activations, so it runs untaped; only the base run is differentiated (a taped
        // batch of both would back-propagate zeros through the source row at the same cost).
        var (sourceLogits, source) = model.RunWithCache(sourceIds, names.Contains, lastPositionOnly: metric.LastPositionOnly);
        var (baseDiff, baseline) = Gradients(model, baseIds, names, metric);
        double sourceDiff = metric.FromLogits(sourceLogits);
        var (cleanDiff, cfDiff) = direction == PatchDirection.Denoise ? (sourceDiff, baseDiff) : (baseDiff, sourceDiff);
        return FromGradients(c, clean.Length, direction, cleanDiff, cfDiff, source, baseline, hook => baseline[hook].Grad);
    }

    /// <summary>
    /// Fills every patching cell with (source − base) · gradient, summed over the cell's elements and normalised by
    /// the clean − counterfactual span (position cells summed over the run's sequences). <paramref name="source"/> and
    /// <paramref name="baseline"/> hold the run's activation per hook, <paramref name="gradient"/> ∂diff/∂activation (null where the metric does not depend on
    /// it): the gradient at the base run, or one averaged along a path.
    /// </summary>
    public static PatchingResult FromGradients(TransformerConfig c, int length, PatchDirection direction, double cleanDiff, double cfDiff,
        ActivationCache source, ActivationCache baseline, Func<string, Tensor?> gradient)
    {
        double span = cleanDiff - cfDiff;
        double Normalise(double moved) => Math.Abs(span) < 1e-12 ? 0 : (direction == PatchDirection.Denoise ? moved : -moved) / span;

        // (source − base) · grad summed per group, for activations laid out [..., groups, width].
        double[] Estimate(string hook, int groups, int width)
        {
            var sums = new double[groups];
            if (gradient(hook) is not { } gradTensor) return sums;
            AccumulateMoved(source[hook].Contiguous().Span, baseline[hook].Contiguous().Span, gradTensor.Contiguous().Span, sums, width);
            for (int k = 0; k < sums.Length; k++) sums[k] = Normalise(sums[k]);
            return sums;
        }

        var residual = new double[c.NLayers + 1][];
        for (int l = 0; l <= c.NLayers; l++)
            residual[l] = Estimate(l < c.NLayers ? HookNames.ResidPre(l) : HookNames.ResidPost(c.NLayers - 1), length, c.DModel);
        var attn = Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.AttnOut(l), 1, c.DModel)[0]).ToArray();
        var mlp = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.MlpOut(l), 1, c.DModel)[0]).ToArray();
        // hook_z is [1, T, H, D] and hook_post [1, T, d_mlp]: group by head / by neuron across positions.
        var heads = Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.Z(l), c.NHeads, c.DHead)).ToArray();
        var neurons = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(l => Estimate(HookNames.MlpPost(l), c.DMlp, 1)).ToArray();
        return new PatchingResult(direction, cleanDiff, cfDiff, residual, attn, mlp, heads, neurons);
    }

    /// <summary>sums[k] += Σ (source − base)·grad over every element of group k, for activations laid out [..., groups, width].</summary>
    // Runs once per hook per explanation (and per row in dynamics' batches), so it is compiled optimised from the first call rather than after tiering.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AccumulateMoved(ReadOnlySpan<float> source, ReadOnlySpan<float> baseline, ReadOnlySpan<float> gradient, double[] sums, int width)
    {
        int groups = sums.Length;
        for (int block = 0; block < baseline.Length; block += groups * width)
        for (int k = 0, i = block; k < groups; k++)
        {
            double sum = 0;
            for (int e = 0; e < width; e++, i++) sum += (source[i] - baseline[i]) * (double)gradient[i];
            sums[k] += sum;
        }
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
    /// <param name="replacements">Hook functions run before the activations are marked (so a replaced activation is the one differentiated).</param>
    public static (double LogitDiff, ActivationCache Activations) Gradients(HookedTransformer model, TokenBatch ids, IReadOnlySet<string> names,
        AnswerMetric metric, IEnumerable<(string HookName, HookFunction Function)>? replacements = null)
    {
        var tape = ActivationTape(model);
        var hooks = new HookSet(names.Contains);
        foreach (var (name, f) in replacements ?? []) hooks.Add(name, f);
        foreach (var name in names)
            hooks.Add(name, (act, _) =>
            {
                act.RequiresGrad = true;
                return null;
            });
        var logits = model.Forward(new Compute(tape), ids, hooks, lastPositionOnly: metric.LastPositionOnly);
        metric.Backward(tape, logits);
        return (metric.FromLogits(logits), hooks.Cache);
    }

    /// <summary>
    /// A tape on which the model's parameters take no gradient even when they require one (a freshly trained model's
    /// do): attribution needs gradients with respect to activations only.
    /// </summary>
    public static Tape ActivationTape(HookedTransformer model)
    {
        var tape = new Tape();
        tape.Freeze(model.Weights.Parameters().Select(p => p.Tensor));
        return tape;
    }

    /// <summary>Back-propagates the target−foil logit difference at the last position of a taped single sequence's logits [1, T, V] (T may be 1).</summary>
    public static void BackwardLogitDiff(Tape tape, Tensor logits, LogitDiffReadout readout) =>
        AnswerMetric.LogitDiff(readout.Target, readout.Foil).Backward(tape, logits);
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// Attribution patching with integrated gradients (as in EAP-IG): the gradient of the logit difference with respect
/// to every patched activation is averaged over S runs whose embedding output (blocks.0.hook_resid_pre) lies on the
/// straight line from the counterfactual to the clean prompt, at α = (k + ½)/S, then multiplied by the
/// (clean − counterfactual) activations. Where the metric is linear along the path this is plain attribution
/// patching; where it curves (softmax, norms, GELU) the averaged gradient follows it. The path is the same either
/// way round, so the noising estimate would be identical: only the denoising form is computed.
/// </summary>
public static class IntegratedGradients
{
    public const int DefaultSteps = 5;

    public static PatchingResult Run(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, int steps = DefaultSteps)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"integrated gradients needs at least one step, got {steps}");
        ActivationPatching.CheckLengths(clean, counterfactual);
        var c = model.Config;
        var names = AttributionPatching.HookPoints(c);
        var (cleanLogits, cleanCache) = model.RunWithCache(clean, names.Contains, lastPositionOnly: metric.LastPositionOnly);
        var (cfLogits, cfCache) = model.RunWithCache(counterfactual, names.Contains, lastPositionOnly: metric.LastPositionOnly);
        string input = HookNames.ResidPre(0);
        var from = cfCache[input].ToArray();
        var to = cleanCache[input].ToArray();

        var mean = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int k = 0; k < steps; k++)
        {
            float alpha = (k + 0.5f) / steps;
            var (_, activations) = AttributionPatching.Gradients(model, counterfactual, names, metric,
                [(input, (act, _) => Interpolate(from, to, alpha, act.Shape.ToArray()))]);
            foreach (var name in names)
            {
                // An activation the metric does not depend on receives no gradient at any step.
                if (activations[name].Grad is not { } grad) continue;
                var sum = (mean.TryGetValue(name, out var m) ? m : mean[name] = Tensor.Zeros(grad.Shape.ToArray())).Span;
                var g = grad.Contiguous().Span;
                for (int i = 0; i < sum.Length; i++) sum[i] += g[i] / steps;
            }
        }
        return AttributionPatching.FromGradients(c, clean.Length, PatchDirection.Denoise, metric.FromLogits(cleanLogits), metric.FromLogits(cfLogits),
            cleanCache, cfCache, name => mean.GetValueOrDefault(name));
    }

    /// <summary>from + α·(to − from), as a fresh tensor of <paramref name="shape"/>.</summary>
    private static Tensor Interpolate(float[] from, float[] to, float alpha, int[] shape)
    {
        var values = new float[from.Length];
        for (int i = 0; i < values.Length; i++) values[i] = from[i] + alpha * (to[i] - from[i]);
        return Tensor.FromArray(values, shape);
    }
}

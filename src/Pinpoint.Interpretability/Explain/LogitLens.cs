using System.Text.Json.Serialization;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>One point of the logit lens: the target−foil difference read from the residual stream after a layer.</summary>
/// <param name="Stage">"embed" for the residual before block 0, else "L{n}" for block n's output.</param>
public sealed record LensPoint(string Stage, [property: JsonIgnore] int Layer, double LogitDiff);

/// <summary>
/// Reads the target−foil difference from the residual stream at the last position after each layer, through the
/// final norm with each residual's own scale (what the model would say if it stopped there).
/// </summary>
public static class LogitLens
{
    public static IEnumerable<string> HookNamesNeeded(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).Select(HookNames.ResidPost).Prepend(HookNames.ResidPre(0));

    public static IReadOnlyList<LensPoint> Run(TransformerConfig config, ActivationCache cache, LogitDiffReadout readout)
    {
        var points = new List<LensPoint> { new("embed", -1, readout.Full(LastRow(cache[HookNames.ResidPre(0)]))) };
        for (int l = 0; l < config.NLayers; l++)
            points.Add(new LensPoint($"L{l}", l, readout.Full(LastRow(cache[HookNames.ResidPost(l)]))));
        return points;
    }

    /// <summary>The last position's row of a [1, T, ...] activation (everything after the position axis, flattened).</summary>
    public static float[] LastRow(Pinpoint.Engine.Tensors.Tensor activation)
    {
        if (activation.Dim(0) != 1) throw new ArgumentException($"expected one sequence, got {activation.Describe()}");
        int t = activation.Dim(1), width = activation.Size / t;
        return activation.Contiguous().Span.Slice((t - 1) * width, width).ToArray();
    }
}

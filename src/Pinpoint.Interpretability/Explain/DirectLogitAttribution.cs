using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// Direct logit attribution: the target−foil difference split over everything written to the residual stream at
/// the last position (embeddings, every head, attention biases, every MLP), with the final norm's scale frozen at
/// its clean value, so the parts plus the bias constant add up to the model's difference. MLPs are further split
/// into neurons: activation × (output weight row read through the frozen norm).
/// </summary>
public sealed record DlaResult(double LogitDiff, double Constant, IReadOnlyList<Attribution> Components, IReadOnlyList<Attribution> Neurons)
{
    /// <summary>Difference between the model's logit difference and the sum of parts (float rounding only).</summary>
    public double Residual => LogitDiff - Constant - Components.Sum(c => c.Value);
}

public static class DirectLogitAttribution
{
    public static IEnumerable<string> HookNamesNeeded(TransformerConfig c)
    {
        yield return HookNames.Embed;
        if (c.Positions == PositionKind.Learned) yield return HookNames.PosEmbed;
        yield return HookNames.FinalScale;
        for (int l = 0; l < c.NLayers; l++)
        {
            yield return HookNames.Result(l);
            yield return HookNames.AttnOut(l);
            if (c.AttentionOnly) continue;
            yield return HookNames.MlpOut(l);
            yield return HookNames.MlpPost(l);
        }
    }

    public static DlaResult Run(HookedTransformer model, ActivationCache cache, LogitDiffReadout readout, double logitDiff)
    {
        var c = model.Config;
        double scale = LogitLens.LastRow(cache[HookNames.FinalScale])[0];
        var parts = new List<Attribution>();
        void Add(ComponentKind kind, int layer, int index, ReadOnlySpan<float> vector) =>
            parts.Add(new Attribution(new Component(kind, layer, index), readout.Linear(vector, scale)));

        Add(ComponentKind.Embedding, -1, 0, LogitLens.LastRow(cache[HookNames.Embed]));
        if (c.Positions == PositionKind.Learned) Add(ComponentKind.PositionEmbedding, -1, 0, LogitLens.LastRow(cache[HookNames.PosEmbed]));
        var neurons = new List<Attribution>();
        for (int l = 0; l < c.NLayers; l++)
        {
            var result = LogitLens.LastRow(cache[HookNames.Result(l)]); // [H × d_model]
            var bias = LogitLens.LastRow(cache[HookNames.AttnOut(l)]);
            for (int h = 0; h < c.NHeads; h++)
            {
                var head = result.AsSpan(h * c.DModel, c.DModel);
                Add(ComponentKind.Head, l, h, head);
                for (int i = 0; i < c.DModel; i++) bias[i] -= head[i];
            }
            if (model.Weights.Blocks[l].Attention.O.Bias is not null) Add(ComponentKind.AttentionBias, l, 0, bias);
            if (c.AttentionOnly) continue;
            Add(ComponentKind.Mlp, l, 0, LogitLens.LastRow(cache[HookNames.MlpOut(l)]));
            neurons.AddRange(NeuronAttributions(model, l, LogitLens.LastRow(cache[HookNames.MlpPost(l)]), readout, scale));
        }
        return new DlaResult(logitDiff, readout.Constant, parts, neurons);
    }

    /// <summary>Each neuron's activation times what its output weights write in the target−foil direction.</summary>
    public static IEnumerable<Attribution> NeuronAttributions(HookedTransformer model, int layer, float[] post, LogitDiffReadout readout, double scale)
    {
        var output = model.Weights.Blocks[layer].Mlp!.Out;
        for (int n = 0; n < post.Length; n++)
        {
            var row = NeuronOutput(output, n);
            yield return new Attribution(new Component(ComponentKind.Neuron, layer, n), post[n] * readout.Linear(row, scale));
        }
    }

    /// <summary>The d_model vector neuron <paramref name="neuron"/> writes per unit of activation.</summary>
    public static float[] NeuronOutput(Linear output, int neuron) =>
        (output.OutIn ? output.Weight.Select(1, neuron) : output.Weight.Select(0, neuron)).ToArray();
}

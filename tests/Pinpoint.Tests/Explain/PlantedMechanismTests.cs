using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// A random model pruned so that one head (L1H0) carries the only path from an earlier token to the last position,
/// and one neuron (L0N5) is the only live MLP neuron. Every method must single them out.
/// </summary>
public class PlantedMechanismTests
{
    internal const int LiveLayer = 1, LiveHead = 0, LiveNeuron = 5;
    private static readonly int[] Clean = [1, 2, 3, 4, 5, 6];
    private static readonly int[] Counterfactual = [1, 9, 3, 4, 5, 6];

    internal static HookedTransformer Planted()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32,
            VocabSize = 12, ContextLength = 16,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 11);
        var rng = new Random(3);
        foreach (var (_, t) in w.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.8);
        }
        for (int l = 0; l < config.NLayers; l++)
        {
            var b = w.Blocks[l];
            var o = b.Attention.O.Weight.Span; // Conv1D [H·d_head, d_model]: rows h·d_head.. belong to head h
            for (int h = 0; h < config.NHeads; h++)
                if (l != LiveLayer || h != LiveHead) o.Slice(h * config.DHead * config.DModel, config.DHead * config.DModel).Clear();
            b.Attention.O.Bias!.Span.Clear();
            var mlpOut = b.Mlp!.Out.Weight.Span; // [d_mlp, d_model]
            for (int n = 0; n < config.DMlp; n++)
                if (l != 0 || n != LiveNeuron) mlpOut.Slice(n * config.DModel, config.DModel).Clear();
            b.Mlp.Out.Bias!.Span.Clear();
        }
        return new HookedTransformer(config, w);
    }

    [Fact]
    public void EveryMethodSinglesOutThePlantedComponents()
    {
        var model = Planted();
        var readout = new LogitDiffReadout(model, target: 7, foil: 8);
        var denoise = ActivationPatching.Run(model, Clean, Counterfactual, readout, PatchDirection.Denoise);
        Assert.True(Math.Abs(denoise.CleanDiff - denoise.CounterfactualDiff) > 1e-3, "the planted pair must change the metric");

        // Only the live head carries the changed token to the last position, so patching it restores everything.
        Assert.Equal(1.0, denoise.Heads[LiveLayer][LiveHead], 5);
        for (int l = 0; l < 2; l++)
            for (int h = 0; h < 2; h++)
                if (l != LiveLayer || h != LiveHead) Assert.Equal(0.0, denoise.Heads[l][h], 9);
        var ranking = Explainer.Ranking(model.Config, denoise);
        Assert.Equal(new Component(ComponentKind.Head, LiveLayer, LiveHead), ranking[0].Component);

        var estimate = AttributionPatching.Run(model, Clean, Counterfactual, readout, PatchDirection.Denoise);
        Assert.Equal(new Component(ComponentKind.Head, LiveLayer, LiveHead), Explainer.Ranking(model.Config, estimate)[0].Component);
        for (int l = 0; l < 2; l++)
            for (int h = 0; h < 2; h++)
                if (l != LiveLayer || h != LiveHead) Assert.Equal(0.0, estimate.Heads[l][h], 9);

        var needed = DirectLogitAttribution.HookNamesNeeded(model.Config).ToHashSet();
        var (logits, cache) = model.RunWithCache(TokenBatch.Single(Clean), needed.Contains);
        var dla = DirectLogitAttribution.Run(model, cache, readout, readout.FromLogits(logits));
        foreach (var part in dla.Components)
        {
            bool live = part.Component.Kind is ComponentKind.Embedding or ComponentKind.PositionEmbedding
                || part.Component == new Component(ComponentKind.Head, LiveLayer, LiveHead)
                || part.Component == new Component(ComponentKind.Mlp, 0, 0);
            if (!live) Assert.Equal(0.0, part.Value, 9);
        }
        var topNeuron = dla.Neurons.MaxBy(n => Math.Abs(n.Value))!;
        Assert.Equal(new Component(ComponentKind.Neuron, 0, LiveNeuron), topNeuron.Component);
        Assert.All(dla.Neurons.Where(n => n.Component != topNeuron.Component), n => Assert.Equal(0.0, n.Value, 9));

        // Resampling the top component from the counterfactual run removes the whole clean−counterfactual effect.
        var resample = Verification.Run(model, Clean, Counterfactual, [Clean, Counterfactual], readout, ranking.Select(a => a.Component).ToList(), 1, AblationKind.Resample);
        double expected = (denoise.CleanDiff - denoise.CounterfactualDiff) / denoise.CleanDiff;
        Assert.Equal(expected, resample.TopKFractionRemoved, 5);
    }
}

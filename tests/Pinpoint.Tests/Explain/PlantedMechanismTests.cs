using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>On the <see cref="PlantedModel"/>, every method must single out the live head and neuron.</summary>
public class PlantedMechanismTests
{
    private const int LiveLayer = PlantedModel.LiveLayer, LiveHead = PlantedModel.LiveHead, LiveNeuron = PlantedModel.LiveNeuron;
    private static readonly int[] Clean = PlantedModel.Clean;
    private static readonly int[] Counterfactual = PlantedModel.Counterfactual;

    private static HookedTransformer Planted() => PlantedModel.Build();

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

using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>Exact identities every explanation method must satisfy on real models.</summary>
public class ExplainInvariantTests
{
    public static TheoryData<string> Models => new() { "gpt2-random", "stories260K" };

    private static LoadedModel Open(string model) => model == "gpt2-random"
        ? ModelLoader.Load(SharedData.Require("models/gpt2-random"))
        : ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.bin"));

    // Clean and counterfactual prompts of equal length differing in one early token; target/foil are arbitrary ids.
    private static (int[] Clean, int[] Counterfactual, int Target, int Foil) Pair(string model) => model == "gpt2-random"
        ? ([400, 72, 101, 108, 108, 111, 32, 119], [400, 72, 97, 108, 108, 111, 32, 119], 111, 101)
        : ([1, 403, 407, 261, 378, 300, 42, 17], [1, 403, 407, 261, 311, 300, 42, 17], 261, 298);

    [Theory]
    [MemberData(nameof(Models))]
    public void DirectAttributionsAddUpToTheLogitDifference(string name)
    {
        using var loaded = Open(name);
        var m = loaded.Model;
        var (clean, _, target, foil) = Pair(name);
        var readout = new LogitDiffReadout(m, target, foil);
        var needed = DirectLogitAttribution.HookNamesNeeded(m.Config).ToHashSet();
        var (logits, cache) = m.RunWithCache(TokenBatch.Single(clean), needed.Contains);
        double diff = readout.FromLogits(logits);
        var dla = DirectLogitAttribution.Run(m, cache, readout, diff);
        Assert.True(Math.Abs(dla.Residual) <= 1e-4 * Math.Max(1, Math.Abs(diff)), $"parts miss the difference {diff:G6} by {dla.Residual:G3}");
        // Neurons of each MLP add up to that MLP's attribution minus its output bias.
        for (int l = 0; l < m.Config.NLayers; l++)
        {
            double neurons = dla.Neurons.Where(n => n.Component.Layer == l).Sum(n => n.Value);
            double mlp = dla.Components.Single(c => c.Component.Kind == ComponentKind.Mlp && c.Component.Layer == l).Value;
            var bias = m.Weights.Blocks[l].Mlp!.Out.Bias?.ToArray();
            double scale = LogitLens.LastRow(cache[HookNames.FinalScale])[0];
            double biasPart = bias is null ? 0 : readout.Linear(bias, scale);
            Assert.True(Math.Abs(neurons + biasPart - mlp) <= 1e-4 * Math.Max(1, Math.Abs(mlp)), $"layer {l}: neurons {neurons + biasPart:G6} vs MLP {mlp:G6}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitLensAtTheLastLayerIsTheModelsDifference(string name)
    {
        using var loaded = Open(name);
        var m = loaded.Model;
        var (clean, _, target, foil) = Pair(name);
        var readout = new LogitDiffReadout(m, target, foil);
        var needed = LogitLens.HookNamesNeeded(m.Config).ToHashSet();
        var (logits, cache) = m.RunWithCache(TokenBatch.Single(clean), needed.Contains);
        var lens = LogitLens.Run(m.Config, cache, readout);
        Assert.Equal(m.Config.NLayers + 1, lens.Count);
        Assert.True(Math.Abs(lens[^1].LogitDiff - readout.FromLogits(logits)) <= 1e-4);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void PatchingTheWholeFinalResidualRestoresEverything(string name)
    {
        using var loaded = Open(name);
        var m = loaded.Model;
        var (clean, cf, target, foil) = Pair(name);
        var readout = new LogitDiffReadout(m, target, foil);
        foreach (var direction in new[] { PatchDirection.Denoise, PatchDirection.Noise })
        {
            var exact = ActivationPatching.Run(m, clean, cf, readout, direction);
            Assert.True(Math.Abs(exact.CleanDiff - exact.CounterfactualDiff) > 1e-3, "the pair must change the metric");
            Assert.Equal(1.0, exact.ResidualByLayerPosition[m.Config.NLayers][clean.Length - 1], 4);
            // Positions before the changed token carry identical activations in both runs: patching them does nothing.
            for (int l = 0; l <= m.Config.NLayers; l++) Assert.Equal(0.0, exact.ResidualByLayerPosition[l][0], 6);
            // Layer 0's residual at the changed token carries the whole difference.
            int changed = Enumerable.Range(0, clean.Length).First(i => clean[i] != cf[i]);
            Assert.Equal(1.0, exact.ResidualByLayerPosition[0][changed], 4);

            var estimate = AttributionPatching.Run(m, clean, cf, readout, direction);
            Assert.Equal(exact.CleanDiff, estimate.CleanDiff, 4);
            Assert.Equal(exact.CounterfactualDiff, estimate.CounterfactualDiff, 4);
            for (int l = 0; l <= m.Config.NLayers; l++) Assert.Equal(0.0, estimate.ResidualByLayerPosition[l][0], 6);
        }
    }

    /// <summary>
    /// Exact neuron patching (noising) and resample-ablating the same single neuron are two code paths to one number,
    /// and the shortlist ranking is ordered by it.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void NeuronPatchingMatchesResamplingThatNeuron(string name)
    {
        using var loaded = Open(name);
        var m = loaded.Model;
        var (clean, cf, target, foil) = Pair(name);
        var readout = new LogitDiffReadout(m, target, foil);
        var estimate = AttributionPatching.Run(m, clean, cf, readout, PatchDirection.Noise);
        var ranked = Explainer.NeuronRemovalRanking(m, clean, cf, readout, estimate, k: 2);
        Assert.Equal(2 * Explainer.NeuronShortlistPerSlot, ranked.Count);
        Assert.True(ranked.Zip(ranked.Skip(1)).All(p => p.First.Value >= p.Second.Value), "ranking is not ordered");
        Assert.True(Math.Abs(ranked[0].Value) > 1e-3, "the top neuron must move the difference for the check to mean anything");
        double cleanDiff = readout.FromLogits(m.RunWithHooks(TokenBatch.Single(clean), [], lastPositionOnly: true));
        double cfDiff = readout.FromLogits(m.RunWithHooks(TokenBatch.Single(cf), [], lastPositionOnly: true));
        foreach (var neuron in ranked.Take(3))
        {
            var resample = Verification.Run(m, clean, cf, [clean], readout, [neuron.Component], 1, AblationKind.Resample);
            // Verification reports a share of the clean difference, patching a share of clean − counterfactual.
            Assert.Equal(resample.TopKFractionRemoved * cleanDiff, neuron.Value * (cleanDiff - cfDiff), 4);
        }
    }
}

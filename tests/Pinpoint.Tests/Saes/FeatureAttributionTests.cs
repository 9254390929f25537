using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Explain;

namespace Pinpoint.Tests.Saes;

public class FeatureAttributionTests
{
    private const string Hook = "blocks.0.hook_resid_post";
    private const int D = 16;

    private static HookedTransformer TinyModel()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = D, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32, VocabSize = 12, ContextLength = 16,
        };
        return new HookedTransformer(config, new Gpt2Adapter().CreateRandom(config, seed: 5));
    }

    private static readonly int[] Clean = [1, 2, 3, 4, 5, 6, 7, 8];
    private static readonly int[][] Reference = [[0, 3, 6, 9, 1, 4, 7, 10], [11, 10, 9, 8, 7, 6, 5, 4]];

    private static float[] LastRow(HookedTransformer model, int[] ids, string hook)
    {
        var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), h => h == hook);
        return cache[hook].ToArray()[^D..];
    }

    private static int ArgMax(HookedTransformer model, int[] ids)
    {
        var logits = model.RunWithHooks(TokenBatch.Single(ids), [], lastPositionOnly: true).ToArray();
        return Array.IndexOf(logits, logits.Max());
    }

    /// <summary>
    /// A counterfactual that changes only the last token, and target/foil the clean and counterfactual argmaxes, so the
    /// clean difference is positive and the counterfactual's is not.
    /// </summary>
    private static (int[] Counterfactual, LogitDiffReadout Readout) Prediction(HookedTransformer model)
    {
        int target = ArgMax(model, Clean);
        foreach (int last in Enumerable.Range(0, 12).Where(t => t != Clean[^1]))
        {
            int[] cf = [.. Clean[..^1], last];
            int foil = ArgMax(model, cf);
            if (foil != target) return (cf, new LogitDiffReadout(model, target, foil));
        }
        throw new InvalidOperationException("no single-token counterfactual changes the tiny model's answer");
    }

    /// <summary>
    /// Feature 0 reads δ = x_clean − x_cf at the hook's last position and writes it back: 0 on the counterfactual,
    /// |δ| on the clean prompt. The other features read directions orthogonal to δ, so they take equal values on both
    /// prompts (the prompts differ only at the last position).
    /// </summary>
    private static Sae Planted(float[] cleanRow, float[] cfRow, int distractors, int seed)
    {
        var delta = cleanRow.Zip(cfRow, (a, b) => a - b).ToArray();
        var unit = delta.Select(v => v / TensorPrimitives.Norm(delta)).ToArray();
        int n = 1 + distractors;
        var encoder = new float[n * D];
        var decoder = new float[n * D];
        var bEnc = new float[n];
        unit.CopyTo(encoder, 0);
        unit.CopyTo(decoder, 0);
        bEnc[0] = -TensorPrimitives.Dot(cfRow, unit);
        var random = PlantedDictionary.RandomUnitRows(new Random(seed), distractors, D);
        for (int j = 1; j < n; j++)
        {
            var row = random.AsSpan((j - 1) * D, D);
            TensorPrimitives.MultiplyAdd(unit, -TensorPrimitives.Dot(row, unit), row, row);
            row.CopyTo(encoder.AsSpan(j * D));
            row.CopyTo(decoder.AsSpan(j * D));
            bEnc[j] = 1f;
        }
        return new Sae(D, n, SaeArchitecture.Standard, 0, applyBDecToInput: true, encoder, decoder, bEnc, new float[D], null)
            { Metadata = new SaeMetadata { HookName = Hook } };
    }

    [Fact]
    public void PlantedFeatureRanksFirstAndResamplingItRemovesTheWholeDifference()
    {
        using var model = TinyModel();
        var (cf, readout) = Prediction(model);
        var sae = Planted(LastRow(model, Clean, Hook), LastRow(model, cf, Hook), distractors: 31, seed: 3);
        var result = FeatureAttribution.Run(model, new DatasetExplainerTests.LetterTokenizer(), [sae], Clean, cf, Reference, readout,
            new FeatureAttributionOptions { TopK = 3, VerifyK = 2 });

        Assert.True(result.LogitDiff > 0 && result.CounterfactualLogitDiff <= 0, $"clean {result.LogitDiff}, counterfactual {result.CounterfactualLogitDiff}");
        var top = result.Top[0];
        Assert.Equal((Hook, 0), (top.Hook, top.Feature));
        Assert.Equal(Clean.Length - 1, top.Position);
        Assert.Equal(0, top.CounterfactualActivation, 5);
        Assert.True(top.Activation > 0);
        // The distractors and the error node move together on both prompts: their attributions vanish.
        Assert.All(result.Top.Skip(1), f => Assert.Equal(0, f.Attribution, 5));
        Assert.True(result.Errors[0].Share < 1e-3, $"error share {result.Errors[0].Share}");

        // Resampling feature 0 puts the counterfactual's activation at the hook: the ablated run is the counterfactual.
        double whole = (result.LogitDiff - result.CounterfactualLogitDiff) / result.LogitDiff;
        Assert.True(whole >= 1);
        Assert.Equal(whole, result.ResampleAblation.Curve[0], 4);
        Assert.Equal(whole, result.ResampleAblation.TopKFractionRemoved, 4);
        Assert.True(result.ResampleAblation.RandomCurve[0] < 0.25 * whole, $"random single features removed {result.ResampleAblation.RandomCurve[0]}");
        Assert.Equal(32, result.ActiveFeatures);
    }

    /// <summary>
    /// For every SAE the feature attributions plus the error node's add up to (x_clean − x_cf)·∂diff/∂x at its hook,
    /// with the gradient of the model without SAEs: upstream gradients pass through a downstream splice unchanged.
    /// </summary>
    [Fact]
    public void FeaturesAndErrorAddUpToTheHooksAttributionForEverySae()
    {
        using var model = TinyModel();
        var (cf, readout) = Prediction(model);
        string[] hooks = [Hook, "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"];
        var saes = hooks.Select((h, i) =>
        {
            var r = SaeFormatTests.RandomSae(SaeArchitecture.Standard, dIn: D, dSae: 24, seed: 10 + i);
            return new Sae(D, 24, r.Architecture, 0, true, r.EncoderRows, r.Decoder, r.BEnc, r.BDec, null) { Metadata = new SaeMetadata { HookName = h } };
        }).ToList();
        var result = FeatureAttribution.Run(model, new DatasetExplainerTests.LetterTokenizer(), saes, Clean, cf, Reference, readout,
            new FeatureAttributionOptions { VerifyK = 1 });

        var (_, gradients) = AttributionPatching.Gradients(model, Clean, hooks.ToHashSet(), readout);
        var (_, cfCache) = model.RunWithCache(TokenBatch.Single(cf), hooks.Contains);
        for (int s = 0; s < hooks.Length; s++)
        {
            var clean = gradients[hooks[s]].ToArray();
            var other = cfCache[hooks[s]].ToArray();
            var grad = gradients[hooks[s]].Grad!.ToArray();
            double expected = 0;
            for (int i = 0; i < clean.Length; i++) expected += (clean[i] - other[i]) * (double)grad[i];
            var e = result.Errors[s];
            Assert.Equal(expected, e.FeatureAttribution + e.Attribution, 4);
            Assert.InRange(e.Share, 0, 1);
        }
        Assert.Equal(readout.FromLogits(model.RunWithHooks(TokenBatch.Single(Clean), [], lastPositionOnly: true)), result.LogitDiff, 4);
    }

    /// <summary>
    /// With one feature to verify and every feature a candidate, the refined pick is the feature whose resample ablation
    /// alone removes most — checked against ablating each feature by itself here — and it removes at least as much as
    /// the estimate's own first feature.
    /// </summary>
    [Fact]
    public void RefinedTopFeatureIsTheBestSingleAblation()
    {
        using var model = TinyModel();
        var (cf, readout) = Prediction(model);
        const int width = 24;
        var r = SaeFormatTests.RandomSae(SaeArchitecture.Standard, dIn: D, dSae: width, seed: 21);
        var sae = new Sae(D, width, r.Architecture, 0, true, r.EncoderRows, r.Decoder, r.BEnc, r.BDec, null) { Metadata = new SaeMetadata { HookName = Hook } };
        var result = FeatureAttribution.Run(model, new DatasetExplainerTests.LetterTokenizer(), [sae], Clean, cf, Reference, readout,
            new FeatureAttributionOptions { VerifyK = 1, RefineCandidates = width });

        string acts = SaeSplice.HookName(sae, SaeSplice.ActsPost);
        var cfHooks = new HookSet(h => h == acts);
        cfHooks.Splice(sae, Compute.Eager, keepError: true);
        model.Forward(Compute.Eager, TokenBatch.Single(cf), cfHooks, lastPositionOnly: true);
        var cfActs = cfHooks.Cache[acts].ToArray();
        double Removed(int feature)
        {
            var hooks = new HookSet();
            hooks.Add(acts, (a, _) =>
            {
                var values = a.ToArray();
                for (int i = feature; i < values.Length; i += width) values[i] = cfActs[i];
                return Tensor.FromArray(values, a.Shape.ToArray());
            });
            hooks.Splice(sae, Compute.Eager, keepError: true);
            double ablated = readout.FromLogits(model.Forward(Compute.Eager, TokenBatch.Single(Clean), hooks, lastPositionOnly: true));
            return (result.LogitDiff - ablated) / result.LogitDiff;
        }
        var singles = Enumerable.Range(0, width).Select(Removed).ToArray();
        int best = Array.IndexOf(singles, singles.Max());
        Assert.True(singles.Max() > 0.01, $"no single feature matters on this prompt (best removes {singles.Max():P2})");
        Assert.Equal($"{Hook}/{best}", result.ResampleAblated[0]);
        Assert.Equal(singles[best], result.ResampleAblation.TopKFractionRemoved, 5);
        Assert.Equal(singles[result.Top[0].Feature], result.ResampleRemovedByEstimate, 5);
        Assert.True(result.ResampleAblation.TopKFractionRemoved >= result.ResampleRemovedByEstimate);
    }


    [Fact]
    public void AnSaeWithoutFeaturesLeavesEverythingToItsErrorNode()
    {
        using var model = TinyModel();
        var (cf, readout) = Prediction(model);
        var empty = new Sae(D, 4, SaeArchitecture.Standard, 0, true, new float[4 * D], new float[4 * D], new float[4], new float[D], null)
            { Metadata = new SaeMetadata { HookName = Hook } };
        var result = FeatureAttribution.Run(model, new DatasetExplainerTests.LetterTokenizer(), [empty], Clean, cf, Reference, readout);
        Assert.Equal(1, result.Errors[0].Share);
        Assert.Equal(0, result.ActiveFeatures);
        Assert.Equal(0, result.ResampleAblation.TopKFractionRemoved, 6);
        var twice = Assert.Throws<ArgumentException>(() => FeatureAttribution.Run(model, new DatasetExplainerTests.LetterTokenizer(), [empty, empty], Clean, cf, Reference, readout));
        Assert.Contains("two SAEs read hook 'blocks.0.hook_resid_post'", twice.Message);
    }
}

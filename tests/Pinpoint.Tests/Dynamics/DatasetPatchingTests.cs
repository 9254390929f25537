using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Models;

namespace Pinpoint.Tests.Dynamics;

/// <summary>Dynamics' batched attribution patching and ablation check give what the per-item explain code gives.</summary>
public class DatasetPatchingTests
{
    /// <summary>Pairs of three lengths (so rows are grouped and a group is split into several batches), each counterfactual one or two tokens off.</summary>
    private static List<PatchPair> Pairs(int vocab)
    {
        var random = new Random(3);
        var pairs = new List<PatchPair>();
        foreach (int length in new[] { 5, 7, 5, 9, 5, 7, 5, 5 })
        {
            var ids = Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray();
            var cf = (int[])ids.Clone();
            cf[random.Next(length)] = (cf[0] + 1 + random.Next(vocab - 1)) % vocab;
            cf[^1] = (ids[^1] + 1) % vocab;
            int target = random.Next(vocab), foil = (target + 1 + random.Next(vocab - 1)) % vocab;
            pairs.Add(new PatchPair(ids, cf, target, foil));
        }
        return pairs;
    }

    [Fact]
    public void BatchedEstimatesEqualPerItemAttributionPatching()
    {
        var model = TraceTests.SmallModel();
        var c = model.Config;
        var pairs = Pairs(c.VocabSize);
        var batched = DatasetPatching.Run(model, pairs, batchSize: 2);
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i];
            var single = AttributionPatching.Run(model, p.Ids, p.CounterfactualIds, AnswerMetric.LogitDiff(p.Target, p.Foil), PatchDirection.Denoise);
            double span = single.CleanDiff - single.CounterfactualDiff;
            Assert.True(Math.Abs(span) > 1e-3, $"pair {i} must move the difference");
            Assert.Equal(single.CleanDiff, batched[i].CleanDiff, 4);
            Assert.Equal(single.CounterfactualDiff, batched[i].CounterfactualDiff, 4);
            for (int l = 0; l < c.NLayers; l++)
            {
                Assert.Equal(single.MlpOut[l] * span, batched[i].Mlps[l], 4);
                for (int h = 0; h < c.NHeads; h++) Assert.Equal(single.Heads[l][h] * span, batched[i].Heads[l * c.NHeads + h], 4);
            }
        }
        Assert.Contains(batched, e => e.Heads.Any(v => Math.Abs(v) > 1e-2));
    }

    [Theory]
    [InlineData(AblationKind.Mean)]
    [InlineData(AblationKind.Resample)]
    public void BatchedAblationEqualsTheItemByItemCheck(AblationKind kind)
    {
        var model = TraceTests.SmallModel();
        var pairs = Pairs(model.Config.VocabSize);
        int[][] reference = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]];
        Component[] set = [new(ComponentKind.Head, 1, 2), new(ComponentKind.Mlp, 0, 0), new(ComponentKind.Head, 0, 1)];
        var clean = DatasetPatching.Run(model, pairs).Select(e => e.CleanDiff).ToList();
        var plans = pairs.Select((_, i) => Verification.Plan(model.Config, set, set.Length, seed: i)).ToList();
        var batched = DatasetPatching.Ablate(model, pairs, clean, plans, kind,
            i => Verification.Replacements(model, kind, pairs[i].CounterfactualIds, reference), batchSize: 7);
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i];
            var single = Verification.Run(model, p.Ids, p.CounterfactualIds, reference, AnswerMetric.LogitDiff(p.Target, p.Foil), set, set.Length, kind, seed: i);
            Assert.Equal(single.K, batched[i].K);
            for (int n = 0; n < single.K; n++)
            {
                Assert.Equal(single.Curve[n], batched[i].Curve[n], 4);
                Assert.Equal(single.RandomCurve[n], batched[i].RandomCurve[n], 4);
            }
        }
        Assert.Contains(batched, r => Math.Abs(r.TopKFractionRemoved) > 1e-2);
    }
}

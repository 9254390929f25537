using Pinpoint.Interpretability.Concepts;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Concepts;

public sealed class ConceptAnalysisTests
{
    [Fact]
    public void PlantedConceptIsFoundInItsNeuronItsWeightsAndIsUsedByTheModel()
    {
        using var planted = new PlantedConceptModel();
        var dataset = ProbeDataset.Read(planted.WriteDataset(), 5);
        int animal = Array.IndexOf(dataset.Classes, "animal"), vehicle = 1 - animal;
        var tokens = new int[2];
        tokens[animal] = PlantedConceptModel.PlantedToken;
        tokens[vehicle] = 1234;
        var report = ConceptAnalysis.Run(planted.Model, dataset, new ConceptOptions { ClassTokens = tokens, Shuffles = 19 }, cancellation: TestContext.Current.CancellationToken);

        Assert.All(report.Layers, l => Assert.True(l.Accuracy >= 0.95 && l.Auc.All(a => a >= 0.95), $"{l.Hook}: {l.Accuracy} {string.Join(",", l.Auc)}"));
        Assert.Equal(HookNames.Embed, report.BestHook);

        var a = report.PerClass[animal];
        Assert.Equal((HookNames.MlpPost(PlantedConceptModel.NeuronLayer), PlantedConceptModel.Neuron), (a.TopNeurons[0].Hook, a.TopNeurons[0].Neuron));
        Assert.True(a.TopNeurons[0].MeanDifference > 0);
        Assert.Equal(HookNames.MlpPost(PlantedConceptModel.NeuronLayer), a.Sparse.Hook);
        Assert.True(a.Sparse.F1[0] >= 0.95, $"k=1 F1 {a.Sparse.F1[0]}");

        var input = a.Weights.First(w => w.Matrix == $"blocks.{PlantedConceptModel.NeuronLayer}.mlp.W_in");
        Assert.Equal(PlantedConceptModel.Neuron, input.Index);
        Assert.True(input.Cosine >= 0.95, $"W_in cosine {input.Cosine}");
        var mlpIn = a.Alignment.Single(s => s.Kind == "mlp_in");
        Assert.Equal(1 / 20.0, mlpIn.PValue, 9);

        var causal = a.Causal;
        Assert.Equal(PlantedConceptModel.PlantedToken, causal.TokenId);
        // Tied logits of this small-norm model lie within about ±0.6, so 0.2 is a large move.
        Assert.True(causal.Effect > 0.2 && causal.Effect > Math.Abs(causal.RandomMean) + 3 * causal.RandomSd,
            $"effect {causal.Effect} vs random {causal.RandomMean} ± {causal.RandomSd}");

        Assert.Equal(1, report.Ablation.Dimensions);
        Assert.True(report.Ablation.AccuracyBefore >= 0.95);
        Assert.InRange(report.Ablation.AccuracyAfter, 0.2, 0.75);
        Assert.True(report.Ablation.RandomSubspaceAfter >= 0.9, $"random subspace {report.Ablation.RandomSubspaceAfter}");
    }

    [Fact]
    public void AucAndProjectionHelpersHaveTheirClosedForms()
    {
        Assert.Equal(1.0, ConceptAnalysis.Auc([3, 4, 1, 2], [true, true, false, false]));
        Assert.Equal(0.5, ConceptAnalysis.Auc([1, 1, 1, 1], [true, false, true, false]));
        var basis = CausalTest.Orthonormalize([[1, 1, 0], [2, 2, 0], [0, 1, 0]]);
        Assert.Equal(2, basis.Count);
        Assert.Equal(0, System.Numerics.Tensors.TensorPrimitives.Dot(basis[0], basis[1]), 12);
    }
}

using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>Gradient × weight over weight rows and columns on the planted model, every vector verified by zeroing.</summary>
public class WeightAttributionTests
{
    private static (HookedTransformer Model, WeightAttributionResult Result) RunAll()
    {
        var model = PlantedModel.Build();
        var readout = new LogitDiffReadout(model, PlantedModel.Target, PlantedModel.Foil);
        return (model, WeightAttribution.Run(model, PlantedModel.Clean, readout, int.MaxValue, id => $"#{id}"));
    }

    private static bool Live(WeightEffect e) => Math.Abs(e.Estimate) > 1e-7;

    [Fact]
    public void OnlyThePlantedHeadAndNeuronHaveLiveWeightsInsideBlocks()
    {
        var (_, result) = RunAll();
        var blocks = result.InBlocks.Verified;
        Assert.Equal(blocks.Count, result.All.Verified.Count(e => e.Vector.Matrix.StartsWith("blocks.")));
        string head = $"[h{PlantedModel.LiveHead}]";
        var attention = blocks.Where(e => e.Vector.Matrix.Contains(".attn.")).ToList();
        Assert.Contains(attention, Live);
        Assert.All(attention.Where(Live), e => Assert.True(e.Vector.Matrix.StartsWith($"blocks.{PlantedModel.LiveLayer}.attn.") && e.Vector.Matrix.EndsWith(head), e.Vector.Name));
        // Each of the head's four matrices carries some of the effect: values and outputs directly, queries and keys through the pattern.
        foreach (var m in new[] { "W_Q", "W_K", "W_V", "W_O" })
            Assert.Contains(attention, e => Live(e) && e.Vector.Matrix == $"blocks.{PlantedModel.LiveLayer}.attn.{m}{head}");

        var neurons = blocks.Where(e => e.Vector.Axis == WeightAxis.Neuron).ToList();
        Assert.Equal(2 * 2 * 32, neurons.Count); // W_in columns and W_out rows of two layers
        Assert.All(neurons.Where(Live), e => Assert.Contains($"neuron L0N{PlantedModel.LiveNeuron} ", e.Vector.Name));
        // Inside the blocks the planted head's (or neuron's) weights rank first.
        Assert.Matches($@"^blocks\.{PlantedModel.LiveLayer}\.attn\.W_.\[h{PlantedModel.LiveHead}\]|neuron L0N{PlantedModel.LiveNeuron} ", blocks.MaxBy(e => Math.Abs(e.Estimate))!.Vector.Name);
        var output = neurons.Where(e => e.Vector.Matrix == "blocks.0.mlp.W_out").MaxBy(e => Math.Abs(e.Estimate))!;
        Assert.Equal(PlantedModel.LiveNeuron, output.Vector.Index);
        Assert.Equal($"blocks.0.mlp.W_out row {PlantedModel.LiveNeuron} (neuron L0N{PlantedModel.LiveNeuron} output)", output.Vector.Name);
    }

    [Fact]
    public void ZeroingMatchesTheEstimateWhereTheDifferenceIsLinear()
    {
        var (_, result) = RunAll();
        // Target and foil are not in the prompt: their tied embedding rows act only as unembedding vectors, and the
        // logit difference is linear in each.
        foreach (int token in new[] { PlantedModel.Target, PlantedModel.Foil })
        {
            var row = result.All.Verified.Single(e => e.Vector.Matrix == "embed.W_E" && e.Vector.Kind == WeightVectorKind.Row && e.Vector.Index == token);
            Assert.Equal($"embed.W_E row {token} (token #{token}, embedding and tied unembedding)", row.Vector.Name);
            Assert.True(Math.Abs(row.Estimate) > 0.1, $"row {token}: {row.Estimate}");
            Assert.Equal(row.Actual, row.Estimate, 4);
        }
        // A token neither in the prompt nor target or foil plays no part at all.
        var unused = result.All.Verified.Single(e => e.Vector.Matrix == "embed.W_E" && e.Vector.Kind == WeightVectorKind.Row && e.Vector.Index == 10);
        Assert.Equal(0.0, unused.Estimate, 9);
        Assert.Equal(0.0, unused.Actual, 9);
        Assert.True(result.All.Spearman > 0.8, $"estimate vs zeroing over every vector: Spearman {result.All.Spearman:G3}");
    }

    /// <summary>
    /// W_E's columns (residual dimensions) are zeroed by hooks where the table is used — the looked-up embeddings and,
    /// tied, the final normalized residual — not in a copy of the table: the same measurement as zeroing the column itself.
    /// </summary>
    [Fact]
    public void EmbeddingColumnsMeasureExactlyWhatZeroingTheColumnDoes()
    {
        var (model, result) = RunAll();
        Assert.True(ReferenceEquals(model.Weights.Unembed.Weight, model.Weights.Embedding), "the planted model's unembedding is tied");
        var readout = new LogitDiffReadout(model, PlantedModel.Target, PlantedModel.Foil);
        var ids = TokenBatch.Single(PlantedModel.Clean);
        double clean = readout.FromLogits(model.RunWithHooks(ids, []));
        var columns = result.All.Verified.Where(e => e.Vector.Matrix == "embed.W_E" && e.Vector.Kind == WeightVectorKind.Column).ToList();
        Assert.Equal(model.Config.DModel, columns.Count);
        Assert.Contains(columns, e => Math.Abs(e.Actual) > 1e-3);
        var table = model.Weights.Embedding.Span;
        int width = model.Config.DModel;
        foreach (var e in columns)
        {
            var saved = new float[table.Length / width];
            for (int t = 0; t < saved.Length; t++) (saved[t], table[t * width + e.Vector.Index]) = (table[t * width + e.Vector.Index], 0);
            double zeroed = readout.FromLogits(model.RunWithHooks(ids, []));
            for (int t = 0; t < saved.Length; t++) table[t * width + e.Vector.Index] = saved[t];
            Assert.Equal(zeroed - clean, e.Actual, tolerance: 1e-6); // the result's baseline is the taped forward's difference: float rounding apart
        }
    }

    [Fact]
    public void TheModelIsLeftUntouchedAndTopLimitsTheVerifiedVectors()
    {
        var model = PlantedModel.Build();
        var readout = new LogitDiffReadout(model, PlantedModel.Target, PlantedModel.Foil);
        double before = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(PlantedModel.Clean), []));
        var result = WeightAttribution.Run(model, PlantedModel.Clean, readout, 3, id => $"#{id}");
        Assert.Equal(before, readout.FromLogits(model.RunWithHooks(TokenBatch.Single(PlantedModel.Clean), [])), 9);
        Assert.Equal(before, result.LogitDiff, 5);
        Assert.Equal(3, result.All.Verified.Count);
        Assert.Equal(3, result.InBlocks.Verified.Count);
        Assert.True(result.All.Verified.Zip(result.All.Verified.Skip(1)).All(p => Math.Abs(p.First.Estimate) >= Math.Abs(p.Second.Estimate)));
        // Zeroing restores the weights: verifying again gives the same measurements.
        var again = WeightAttribution.Run(model, PlantedModel.Clean, readout, 3, id => $"#{id}");
        Assert.Equal(result.All.Verified.Select(e => e.Actual), again.All.Verified.Select(e => e.Actual));
    }
}

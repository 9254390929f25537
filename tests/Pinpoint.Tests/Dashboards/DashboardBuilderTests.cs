using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Dashboards;

public sealed class DashboardBuilderTests
{
    private static readonly DashboardOptions Options = new() { Top = 6, Radius = 2, Intervals = 4, SamplesPerInterval = 2 };

    /// <summary>A neuron planted to fire on one token gets exactly that token's occurrences as its top contexts, and their share of tokens as its density.</summary>
    [Fact]
    public void PlantedNeuronTopContextsAreExactlyItsTokenAndDensityIsItsShare()
    {
        using var planted = new PlantedNeuronModel();
        (int, int)[] occurrences = [(0, 3), (1, 0), (2, 15), (4, 7), (4, 8), (6, 11)];
        var windows = PlantedNeuronModel.Windows(7, 16, occurrences, seed: 1);
        var hook = HookNames.MlpPost(0);
        var store = DashboardBuilder.Build(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, hook)], windows, ["synthetic"], Options, batchSize: 3).Single();

        Assert.Equal(7 * 16, store.Tokens);
        Assert.Equal(7, store.Windows);
        var neuron = store.Units[PlantedNeuronModel.Neuron];
        Assert.Equal(occurrences.Order(), neuron.Top.Select(c => ((int)c.Source, c.Position)).Order());
        Assert.All(neuron.Top, c => Assert.Equal(PlantedNeuronModel.Token, c.Tokens[c.Focus]));
        Assert.All(neuron.Top, c => Assert.True(c.Activation > 1f, $"activation {c.Activation}"));
        Assert.Equal(occurrences.Length / (double)store.Tokens, neuron.Density, 12);
        Assert.Equal(occurrences.Length, neuron.Intervals.Sum(i => i.Count));
        Assert.Equal(planted.Model.Tokenizer.TokenText(PlantedNeuronModel.Token), store.Text(PlantedNeuronModel.Token));
    }

    /// <summary>Logit effects are W_out's row through the final norm's weights and W_U, computed here by explicit loops.</summary>
    [Fact]
    public void LogitEffectsEqualTheMatrixProduct()
    {
        using var planted = new PlantedNeuronModel();
        var model = planted.Model.Model;
        var windows = PlantedNeuronModel.Windows(2, 8, [(0, 1)], seed: 2);
        var store = DashboardBuilder.Build(planted.Model, [DashboardUnits.Neurons(model, HookNames.MlpPost(0))], windows, ["synthetic"], Options).Single();
        var w = model.Weights;
        var wOut = w.Blocks[0].Mlp!.Out.Weight.ToArray(); // Conv1D [d_mlp, d_model]
        var lnWeight = w.FinalNorm.Weight.ToArray();
        var wU = w.Embedding.ToArray(); // tied: [vocab, d_model]
        int d = model.Config.DModel, vocab = model.Config.VocabSize;
        foreach (int n in new[] { 0, PlantedNeuronModel.Neuron, PlantedNeuronModel.DMlp - 1 })
        {
            var row = wOut.AsSpan(n * d, d).ToArray();
            double mean = row.Average(v => (double)v);
            var folded = row.Select((v, i) => (v - mean) * lnWeight[i]).ToArray();
            var logits = Enumerable.Range(0, vocab).Select(t => Enumerable.Range(0, d).Sum(i => folded[i] * wU[t * d + i])).ToArray();
            var expectedUp = Enumerable.Range(0, vocab).OrderByDescending(t => logits[t]).Take(Options.LogitTokens).ToList();
            var expectedDown = Enumerable.Range(0, vocab).OrderBy(t => logits[t]).Take(Options.LogitTokens).ToList();
            var unit = store.Units[n];
            Assert.Equal(expectedUp.Select(planted.Model.Tokenizer.TokenText), unit.Promotes!.Select(s => s.Token));
            Assert.Equal(expectedDown.Select(planted.Model.Tokenizer.TokenText), unit.Suppresses!.Select(s => s.Token));
            for (int i = 0; i < Options.LogitTokens; i++)
            {
                Assert.Equal(logits[expectedUp[i]], unit.Promotes![i].Score, 4);
                Assert.Equal(logits[expectedDown[i]], unit.Suppresses![i].Score, 4);
            }
        }
    }

    [Fact]
    public void StoreRoundTripsThroughItsFileAndIsFoundForItsModel()
    {
        using var planted = new PlantedNeuronModel();
        var windows = PlantedNeuronModel.Windows(3, 10, [(1, 4)], seed: 3);
        var hook = HookNames.MlpPost(0);
        var store = DashboardBuilder.Build(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, hook)], windows, ["synthetic"], Options).Single();
        var folder = Directory.CreateTempSubdirectory("pinpoint-dash-").FullName;
        try
        {
            var path = DashboardFiles.Write(folder, store);
            Assert.Equal(Path.Combine(folder, hook + ".json"), path);
            Assert.True(DashboardFiles.TryOpenFor(planted.Model, hook, out var read, folder));
            Assert.Equal(Interpretability.Reports.ReportJson.Serialize(store), Interpretability.Reports.ReportJson.Serialize(read));
            Assert.False(DashboardFiles.TryOpenFor(planted.Model, HookNames.MlpPre(0), out _, folder));
            File.WriteAllText(path, "{\"hook\": 3}");
            var error = Assert.Throws<InvalidDataException>(() => DashboardFiles.TryOpenFor(planted.Model, hook, out _, folder));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The compact form keeps every context (same tokens, same order) with activations clamped at 0 and within 1% of the
    /// unit's maximum,
    /// is smaller than the full JSON, is found by TryOpenFor when it is the only form, and bytes that are not Brotli are
    /// an error naming the file.
    /// </summary>
    [Fact]
    public void CompactStoreKeepsContextsWithinOnePercentAndIsFoundForItsModel()
    {
        using var planted = new PlantedNeuronModel();
        var windows = PlantedNeuronModel.Windows(6, 16, [(1, 4), (3, 9), (5, 0)], seed: 5);
        var hook = HookNames.MlpPost(0);
        var store = DashboardBuilder.Build(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, hook)], windows, ["synthetic"], Options).Single();
        var folder = Directory.CreateTempSubdirectory("pinpoint-dash-").FullName;
        try
        {
            var full = DashboardFiles.Write(Path.Combine(folder, "full"), store);
            var path = DashboardFiles.Write(folder, store, compact: true);
            Assert.Equal(Path.Combine(folder, hook + ".json.br"), path);
            Assert.True(new FileInfo(path).Length < new FileInfo(full).Length / 3, $"{new FileInfo(path).Length} vs {new FileInfo(full).Length} bytes");
            Assert.True(DashboardFiles.TryOpenFor(planted.Model, hook, out var read, folder));
            Assert.Equal(store.TokenTexts, read!.TokenTexts);
            for (int u = 0; u < store.Units.Count; u++)
            {
                var (expected, actual) = (store.Units[u], read.Units[u]);
                double tolerance = expected.MaxActivation > 0 ? 0.01 * expected.MaxActivation : 1e-3;
                var pairs = expected.Top.Concat(expected.Intervals.SelectMany(i => i.Contexts))
                    .Zip(actual.Top.Concat(actual.Intervals.SelectMany(i => i.Contexts)));
                Assert.Equal(expected.Top.Count + expected.Intervals.Sum(i => i.Contexts.Count), pairs.Count());
                foreach (var (e, a) in pairs)
                {
                    Assert.Equal((e.Source, e.Position, e.Focus), (a.Source, a.Position, a.Focus));
                    Assert.Equal(e.Tokens, a.Tokens);
                    for (int i = 0; i < e.Activations.Length; i++) Assert.InRange(a.Activations[i], Math.Max(0, e.Activations[i]) - tolerance, Math.Max(0, e.Activations[i]) + tolerance);
                }
                Assert.Equal(expected.Density, actual.Density, 3);
                Assert.Equal(expected.Histogram.Counts, actual.Histogram.Counts);
                Assert.Equal(expected.Promotes!.Select(s => s.Token), actual.Promotes!.Select(s => s.Token));
            }
            File.WriteAllText(path, "{\"hook\": 3}");
            var error = Assert.Throws<InvalidDataException>(() => DashboardFiles.TryOpenFor(planted.Model, hook, out _, folder));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void NonNeuronHookIsRefusedNamingIt()
    {
        using var planted = new PlantedNeuronModel();
        var error = Assert.Throws<ArgumentException>(() => DashboardUnits.Neurons(planted.Model.Model, HookNames.ResidPost(0)));
        Assert.Contains("blocks.0.hook_resid_post", error.Message);
    }
}

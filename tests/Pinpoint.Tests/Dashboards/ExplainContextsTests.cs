using System.Xml.Linq;
using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Transformer;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Dashboards;

/// <summary>explain's optional readout of a neuron's top corpus contexts from a dashboard store.</summary>
public sealed class ExplainContextsTests
{
    [Fact]
    public void ReadoutShowsThePlantedNeuronsTokenAndSkipsLayersWithoutAStore()
    {
        using var planted = new PlantedNeuronModel();
        using var dir = new TempDir();
        var windows = PlantedNeuronModel.Windows(4, 12, [(0, 5), (2, 0), (3, 11)], seed: 4);
        var store = DashboardBuilder.Build(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, HookNames.MlpPost(0))], windows, ["synthetic"], new DashboardOptions { Top = 3 }).Single();
        DashboardFiles.Write(dir.Path, store);

        var neuron = new Component(ComponentKind.Neuron, 0, PlantedNeuronModel.Neuron);
        var readout = NeuronContextReadout.For(planted.Model, [neuron, new Component(ComponentKind.Neuron, 1, 0)], dir.Path).Single();
        Assert.Equal(neuron.Name, readout.Neuron);
        Assert.Equal(3, readout.Top.Count);
        var token = planted.Model.Tokenizer.TokenText(PlantedNeuronModel.Token);
        Assert.All(readout.Top, c => Assert.Equal(token, c.Token));
        // The context at window 2, position 0 has nothing before it.
        Assert.Contains(readout.Top, c => c.Before == "");
        Assert.Empty(NeuronContextReadout.For(planted.Model, [neuron], Path.Combine(dir.Path, "elsewhere")));

        var section = DashboardHtmlReport.NeuronContextsSection([readout]).Markup;
        XElement.Parse(section);
        Assert.Contains("neuron-contexts", section);
    }

    /// <summary>
    /// explain --dashboards shows every mechanism neuron's contexts when each layer has a store, in the JSON and the HTML;
    /// without --dashboards it reads the compact store shipped with the embedded model; where no store exists the field is absent.
    /// </summary>
    [Fact]
    public void ExplainShowsTopContextsWhereStoresExist()
    {
        using var dir = new TempDir();
        var corpus = dir.File("corpus.txt");
        File.WriteAllText(corpus, string.Join("\n<|endoftext|>\n", Enumerable.Range(0, 8).Select(i => $"The cat sat on a mat. A dog ran to the park number {i}.")));
        var stores = dir.File("dash");
        Cli.Cli.Run("neurons", "--corpus", corpus, "--context", "32", "--top", "4", "--out", stores, "--no-html", "--json").Json();

        var html = dir.File("explain.html");
        var json = Cli.Cli.Run("explain", "--dashboards", stores, "--html", html, "--json").Json();
        int mechanisms = json.GetProperty("neuron_mechanisms").GetArrayLength();
        var contexts = json.GetProperty("neuron_contexts");
        Assert.Equal(mechanisms, contexts.GetArrayLength());
        foreach (var n in contexts.EnumerateArray())
        {
            Assert.InRange(n.GetProperty("top").GetArrayLength(), 1, 3);
            Assert.StartsWith("blocks.", n.GetProperty("hook").GetString());
        }
        Assert.Contains("id=\"neuron-contexts\"", File.ReadAllText(html));

        var shipped = Cli.Cli.Run("explain", "--json").Json();
        Assert.Equal(mechanisms, shipped.GetProperty("neuron_contexts").GetArrayLength());
        Assert.All(shipped.GetProperty("neuron_contexts").EnumerateArray(), n => Assert.Equal(3, n.GetProperty("top").GetArrayLength()));
        var none = Cli.Cli.Run("explain", "--dashboards", Directory.CreateDirectory(dir.File("empty")).FullName, "--json").Json();
        Assert.False(none.TryGetProperty("neuron_contexts", out _));
        Cli.Cli.Run("explain", "--dashboards", dir.File("nothing")).AssertFailed(1, "--dashboards");
    }

    /// <summary>
    /// The compact store shipped with the embedded model: every layer's neurons, built over every corpus file, within the
    /// 3 MB budget, each neuron that fired with its top contexts strongest first, the activating token at the focus.
    /// </summary>
    [Fact]
    public void ShippedStoreCoversEveryLayerOfTheEmbeddedModelWithinThreeMegabytes()
    {
        using var model = global::Pinpoint.Models.Loading.ModelLoader.Load(global::Pinpoint.Cli.ModelOptions.DefaultModelPath);
        var folder = DashboardFiles.DefaultFolder(model);
        long bytes = Directory.GetFiles(folder).Sum(f => new FileInfo(f).Length);
        Assert.InRange(bytes, 1, 3L * 1024 * 1024);
        for (int layer = 0; layer < model.Model.Config.NLayers; layer++)
        {
            Assert.True(DashboardFiles.TryOpenFor(model, HookNames.MlpPost(layer), out var store), $"no store for layer {layer} in {folder}");
            Assert.Equal(5, store!.Corpus.Count);
            Assert.True(store.Tokens >= 400_000, $"{store.Tokens} tokens");
            foreach (var unit in store.Units.Where(u => u.Density > 0))
            {
                Assert.Equal(store.Options.Top, unit.Top.Count);
                double step = 0.01 * unit.MaxActivation;
                Assert.InRange(unit.Top[0].Activation, unit.MaxActivation - step, unit.MaxActivation + step);
                Assert.All(unit.Top.Zip(unit.Top.Skip(1)), p => Assert.True(p.First.Activation >= p.Second.Activation));
                Assert.All(unit.Top, c => Assert.InRange(c.Activations[c.Focus], Math.Max(0, c.Activation) - step, Math.Max(0, c.Activation) + step));
                Assert.All(unit.Top, c => Assert.True(store.TokenTexts.ContainsKey(c.Tokens[c.Focus])));
            }
        }
    }
}

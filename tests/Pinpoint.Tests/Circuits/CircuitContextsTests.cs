using Pinpoint.Cli;
using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Dashboards;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Circuits;

/// <summary>A circuit's MLP nodes carry the top corpus contexts of their neurons where a neuron dashboard store exists.</summary>
public sealed class CircuitContextsTests
{
    [Fact]
    public void MlpNodesShowTheirLeadingNeuronsContextsFromTheStoreAndOnlyWhereOneExists()
    {
        using var loaded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        using var dir = new TempDir();
        var windows = PlantedNeuronModel.Windows(6, 16, [], seed: 11);
        var hook = HookNames.MlpPost(0);
        var store = DashboardBuilder.Build(loaded, [DashboardUnits.Neurons(loaded.Model, hook)], windows, ["synthetic"], new DashboardOptions { Top = 2 }).Single();
        DashboardFiles.Write(dir.Path, store);

        var options = new CircuitOptions { Edges = 40, CurvePoints = 1, RandomDraws = 1, PatchEdges = 0, DashboardFolder = dir.Path };
        var report = CircuitExplainer.Explain(loaded, [ExplainRequest.ArticleExample], options);
        var mlp0 = Assert.Single(report.Nodes, n => n.Name == "MLP0");
        Assert.All(report.Nodes.Where(n => n.Kind == "mlp" && n.Layer != 0), n => Assert.Null(n.TopContexts));
        Assert.All(report.Nodes.Where(n => n.Kind == "head"), n => Assert.Null(n.TopContexts));

        // The neurons shown are the layer's leading ones by |attribution patching estimate| on the prompt.
        var prediction = Prediction.Prepare(loaded, ExplainRequest.ArticleExample);
        var shares = AttributionPatching.Run(loaded.Model, prediction.Ids, prediction.CounterfactualIds, prediction.Readout, PatchDirection.Denoise).Neurons![0];
        var expected = Enumerable.Range(0, shares.Length).OrderByDescending(i => Math.Abs(shares[i])).Take(options.ContextNeurons).ToArray();
        var contexts = mlp0.TopContexts!;
        Assert.Equal(expected.Select(i => new Component(ComponentKind.Neuron, 0, i).Name), contexts.Select(c => c.Neuron));

        // Brute force: each shown neuron's top context is its largest activation over every window of the corpus.
        var activations = windows.Select(w => loaded.Model.RunWithCache(TokenBatch.Single(w.Ids), name => name == hook).Cache[hook].ToArray()).ToList();
        int dMlp = loaded.Model.Config.DMlp;
        foreach (var (neuron, shown) in expected.Zip(contexts))
        {
            double max = activations.Max(a => Enumerable.Range(0, a.Length / dMlp).Max(t => a[t * dMlp + neuron]));
            Assert.Equal(max, shown.Top[0].Activation, 3);
            Assert.Equal(max, shown.MaxActivation, 3);
            Assert.Equal(2, shown.Top.Count);
        }

        var html = CircuitHtmlReport.Render(report, "test");
        Assert.Contains(contexts[0].Neuron, html);
        Assert.Contains("top neurons fire on", CircuitHtmlReport.ReadoutText(mlp0));

        // Without a store (another folder) no node has contexts.
        var plain = CircuitExplainer.Explain(loaded, [ExplainRequest.ArticleExample], options with { DashboardFolder = Path.Combine(dir.Path, "elsewhere") });
        Assert.All(plain.Nodes, n => Assert.Null(n.TopContexts));
    }
}

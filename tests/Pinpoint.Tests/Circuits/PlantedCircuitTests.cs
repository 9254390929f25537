using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Tests.Circuits;

/// <summary>The planted-circuit benchmark: edge attribution must rank the planted edges first, and discovery must recover them exactly.</summary>
public class PlantedCircuitTests
{
    public static TheoryData<string> Circuits => new() { "induction", "suppression", "two-hop copy" };

    private static PlantedCircuit Planted(string name) => PlantedCircuit.All().Single(p => p.Name == name);

    [Theory]
    [MemberData(nameof(Circuits))]
    public void PlantedCircuitWorks(string name)
    {
        var planted = Planted(name);
        foreach (var item in planted.Items)
        {
            double clean = item.Metric.FromLogits(planted.Model.RunWithHooks(item.Run, [], lastPositionOnly: true));
            double counterfactual = item.Metric.FromLogits(planted.Model.RunWithHooks(item.CounterfactualRun, [], lastPositionOnly: true));
            Assert.True(clean > 1 && counterfactual < -1, $"{name}: the planted circuit must decide the answer (clean {clean:F2}, counterfactual {counterfactual:F2})");
        }
    }

    [Theory]
    [MemberData(nameof(Circuits))]
    public void EdgeRankingSeparatesThePlantedEdges(string name)
    {
        var planted = Planted(name);
        var forward = new EdgeForward(planted.Model);
        var truth = planted.Edges.Select(forward.Graph.Find).ToHashSet();
        foreach (int igSteps in new[] { 0, 5 })
        {
            var sums = new double[forward.Graph.Edges.Count];
            foreach (var item in planted.Items)
            {
                var s = EdgeAttribution.Scores(forward, item.Run, item.CounterfactualRun, item.Metric, igSteps);
                for (int e = 0; e < sums.Length; e++) sums[e] += s[e];
            }
            double auc = Statistics.RocAuc(sums.Select(Math.Abs).ToList(), forward.Graph.Edges.Select(truth.Contains).ToList());
            Assert.True(auc >= 0.95, $"{name}, IG steps {igSteps}: ROC AUC {auc:F3}");
        }
    }

    [Theory]
    [MemberData(nameof(Circuits))]
    public void DiscoveryRecoversThePlantedCircuitExactlyAndItIsFaithful(string name)
    {
        var planted = Planted(name);
        var forward = new EdgeForward(planted.Model);
        var truth = planted.Edges.Select(forward.Graph.Find).ToHashSet();
        var reference = planted.Items.Select(i => i.CounterfactualRun.Ids).ToList();
        var result = CircuitDiscovery.Run(forward, planted.Items, reference, new CircuitOptions { Edges = truth.Count, CurvePoints = 4, RandomDraws = 3, PatchEdges = 5, PatchItems = 1 });
        Assert.Equal(truth.Select(e => e.Name).Order(), result.Circuit.Select(e => e.Edge.Name).Order());
        Assert.True(result.Faithfulness.Resample > 0.8, $"{name}: resample faithfulness {result.Faithfulness.Resample:F3}");
        Assert.True(result.RandomFaithfulness.Resample < 0.2, $"{name}: random circuits {result.RandomFaithfulness.Resample:F3}");
        Assert.True(result.PatchSpearman > 0.5, $"{name}: EAP vs exact path patching Spearman {result.PatchSpearman:F3}");
    }

    [Fact]
    public void SmallestCircuitReachingTheTargetIsFoundAndPruningDropsDeadEnds()
    {
        var planted = Planted("induction");
        var forward = new EdgeForward(planted.Model);
        var reference = planted.Items.Select(i => i.CounterfactualRun.Ids).ToList();
        var result = CircuitDiscovery.Run(forward, planted.Items, reference, new CircuitOptions { TargetFaithfulness = 0.9, CurvePoints = 6, RandomDraws = 2, PatchEdges = 0 });
        Assert.True(result.ReachedTarget);
        Assert.True(result.Faithfulness.Resample >= 0.9);
        Assert.Equal(forward.Graph.Edges.Count, result.Curve[^1].Edges);
        Assert.Equal(1.0, result.Curve[^1].Resample, 6);
        // One edge fewer does not reach it (the smallest size, as far as the ranking goes).
        var smaller = CircuitDiscovery.Prune(forward.Graph, result.Ranked.Take(result.Requested - 1).Select(x => x.Edge));
        Assert.True(smaller.Count < result.Circuit.Count || result.Requested == 1);

        // An edge into a head whose output goes nowhere is pruned; the edge from it to the logits keeps it.
        var graph = forward.Graph;
        Assert.Empty(CircuitDiscovery.Prune(graph, [graph.Find("embed->L0H0.v")]));
        Assert.Equal(2, CircuitDiscovery.Prune(graph, [graph.Find("embed->L0H0.v"), graph.Find("L0H0->logits")]).Count);
    }
}

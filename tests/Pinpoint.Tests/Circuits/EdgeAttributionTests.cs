using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Circuits;

/// <summary>The edge-level forward is the ordinary forward until edges are cut; edge attribution estimates what cutting one edge does.</summary>
public class EdgeAttributionTests
{
    private static readonly int[] Clean = [1, 5, 2, 7, 3, 9, 4];
    private static readonly int[] Counterfactual = [1, 5, 8, 7, 3, 6, 4];

    /// <summary>Random GPT-2 (sequential residual, LayerNorm, fused QKV) and Llama-style (RMSNorm, rotary, gated MLP, grouped-query attention) models.</summary>
    public static TheoryData<string> Architectures => new() { "gpt2", "llama-gqa", "parallel" };

    private static HookedTransformer Random(string kind)
    {
        var config = new TransformerConfig
        {
            Architecture = kind == "gpt2" || kind == "parallel" ? "gpt2" : "llama", DModel = 16, NLayers = 2, NHeads = 4, NKvHeads = kind == "llama-gqa" ? 2 : 4,
            DHead = 4, DMlp = 24, VocabSize = 11, ContextLength = 16, ParallelResidual = kind == "parallel",
        };
        if (kind == "llama-gqa")
            config = config with { Norm = NormKind.RmsNorm, Positions = PositionKind.Rotary, RotaryDim = 4, Activation = Pinpoint.Engine.Kernels.Activation.Silu, GatedMlp = true };
        var weights = kind == "llama-gqa" ? new LlamaAdapter().CreateRandom(config, seed: 3) : new Gpt2Adapter().CreateRandom(config, seed: 3);
        // Larger weights than the init so every edge carries a visible effect.
        var rng = new Random(5);
        foreach (var (_, t) in weights.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.6);
        }
        return new HookedTransformer(config, weights);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void NothingCutIsTheForwardAndEverythingCutIsTheCounterfactual(string kind)
    {
        var model = Random(kind);
        var forward = new EdgeForward(model);
        var readout = new LogitDiffReadout(model, 3, 4);
        double clean = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(Clean), [], lastPositionOnly: true));
        double counterfactual = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(Counterfactual), [], lastPositionOnly: true));
        Assert.Equal(clean, readout.FromLogits(forward.Run(Clean).Logits), 4);
        // Every port reading the counterfactual's senders is the counterfactual run, whatever the routing.
        var resample = forward.SenderOutputs(Counterfactual);
        Assert.Equal(counterfactual, readout.FromLogits(forward.Run(Clean, _ => false, resample).Logits), 4);
        Assert.True(Math.Abs(clean - counterfactual) > 0.05, "the pair must change the metric");
        // Keeping every edge with any replacement values changes nothing.
        Assert.Equal(clean, readout.FromLogits(forward.Run(Clean, _ => true, resample).Logits), 4);
    }

    [Fact]
    public void AttributionComputesNoWeightGradients()
    {
        // The random models are initialised for training, so every weight requires a gradient: the tapes of edge
        // attribution, attribution patching and integrated gradients must still leave them without one.
        var model = Random("gpt2");
        var parameters = model.Weights.Parameters().Select(p => p.Tensor).ToList();
        Assert.All(parameters, t => Assert.True(t.RequiresGrad));
        var metric = new LogitDiffReadout(model, 3, 4);
        EdgeAttribution.Scores(new EdgeForward(model), Clean, Counterfactual, metric, igSteps: 2);
        AttributionPatching.Run(model, Clean, Counterfactual, metric, PatchDirection.Denoise);
        IntegratedGradients.Run(model, Clean, Counterfactual, metric, steps: 2);
        Assert.All(parameters, t => Assert.Null(t.Grad));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ATwoAnswerRunIsItsRowsRunApart(string kind)
    {
        // log p(target) − log p(foil) over one row per answer: scores, exact path patching and cut runs are those of the
        // target row (metric log p(target)) minus those of the foil row (log p(foil)), each run alone.
        var model = Random(kind);
        var forward = new EdgeForward(model);
        int[] target = [3, 5, 2], foil = [4];
        var metric = AnswerMetric.LogProbDiff(target, foil);
        var (run, counterfactualRun) = (AnswerMetric.LogProbDiffRun(Clean, target, foil), AnswerMetric.LogProbDiffRun(Counterfactual, target, foil));
        int[] targetRow = [.. Clean, .. target[..^1]], cfTargetRow = [.. Counterfactual, .. target[..^1]];
        var (targetMetric, foilMetric) = (AnswerMetric.LogProb(target), AnswerMetric.LogProb(foil));
        Assert.Equal(model.Forward(Pinpoint.Engine.Autograd.Compute.Eager, run).ToArray(), forward.Run(run, lastPositionOnly: false).Logits.ToArray(), (a, b) => Math.Abs(a - b) < 1e-4);

        var scores = EdgeAttribution.Scores(forward, run, counterfactualRun, metric);
        var apart = EdgeAttribution.Scores(forward, targetRow, cfTargetRow, targetMetric).Zip(EdgeAttribution.Scores(forward, Clean, Counterfactual, foilMetric), (t, f) => t - f).ToArray();
        Assert.Equal(apart, scores, (a, b) => Math.Abs(a - b) < 1e-4);
        var edges = forward.Graph.Edges.Where((_, i) => i % 7 == 0).ToList();
        var exact = EdgeAttribution.Patch(forward, run, counterfactualRun, metric, edges);
        var exactApart = EdgeAttribution.Patch(forward, targetRow, cfTargetRow, targetMetric, edges).Zip(EdgeAttribution.Patch(forward, Clean, Counterfactual, foilMetric, edges), (t, f) => t - f);
        Assert.Equal(exactApart, exact, (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.Contains(exact, x => Math.Abs(x) > 1e-3);
        // Everything cut is the counterfactual run, in both rows.
        double counterfactual = metric.FromLogits(model.Forward(Pinpoint.Engine.Autograd.Compute.Eager, counterfactualRun));
        Assert.Equal(counterfactual, metric.FromLogits(forward.Run(run, _ => false, forward.SenderOutputs(counterfactualRun), lastPositionOnly: false).Logits), 4);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EachRowOfABatchedRunIsThatCircuitRunAlone(string kind)
    {
        // Rows with different kept edges and different ablations (the counterfactual's outputs, another prompt's) must
        // not leak into each other.
        var model = Random(kind);
        var forward = new EdgeForward(model);
        var resample = forward.SenderOutputs(Counterfactual);
        var other = forward.SenderOutputs(new[] { 2, 2, 9, 1, 0, 4, 4 });
        Func<Edge, bool>[] keeps = [e => e.Name.Length % 3 == 0, e => e.Name.Length % 2 == 1, _ => false];
        var cuts = keeps.SelectMany(k => new[] { new CutSet(k, resample), new CutSet(k, other) }).ToList();
        var batched = forward.RunBatch(Clean, cuts).Logits.ToArray();
        int vocab = model.Config.VocabSize;
        for (int r = 0; r < cuts.Count; r++)
        {
            var alone = forward.Run(Clean, cuts[r].Keep, cuts[r].Ablated).Logits.ToArray();
            for (int v = 0; v < vocab; v++) Assert.Equal(alone[v], batched[r * vocab + v], 1e-4); // a tolerance, not rounding: batching may reorder float sums
        }
    }

    /// <summary>
    /// Counterfactuals differing first at position 2, only at the last position (all but the last row run once, shared),
    /// and at position 0 (nothing shared), each for plain EAP and EAP-IG with two steps.
    /// </summary>
    public static TheoryData<string, int[], int> Pairs()
    {
        var data = new TheoryData<string, int[], int>();
        foreach (var kind in new[] { "gpt2", "llama-gqa", "parallel" })
            foreach (var counterfactual in new[] { Counterfactual, [1, 5, 2, 7, 3, 9, 8], [6, 5, 2, 7, 3, 9, 4] })
                foreach (var steps in new[] { 0, 2 }) data.Add(kind, counterfactual, steps);
        return data;
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void ScoresAreSenderMovesDottedWithPortGradients(string kind, int[] counterfactualIds, int igSteps)
    {
        // The definition, summed edge by edge in double precision from plain taped runs of the whole prompt: (counterfactual
        // − clean) sender output · the port's input gradient, averaged over the embeddings moved α = (k + ½)/S of the way
        // from the counterfactual's for EAP-IG. The scores (one product per stack over the senders that feed it, positions
        // the prompts share run once, on a tape and arena reused between calls) must match it, and a second call must
        // repeat the first exactly.
        var model = Random(kind);
        var forward = new EdgeForward(model);
        AnswerMetric metric = new LogitDiffReadout(model, 3, 4);
        var counterfactual = forward.SenderOutputs(counterfactualIds);
        var clean = forward.SenderOutputs(Clean);
        int steps = Math.Max(igSteps, 1);
        var expected = new double[forward.Graph.Edges.Count];
        for (int k = 0; k < steps; k++)
        {
            double alpha = igSteps == 0 ? 1 : (k + 0.5) / steps;
            var tape = AttributionPatching.ActivationTape(model);
            var run = forward.Run(Clean, tape: tape, before: (HookNames.ResidPre(0), (x, _) =>
            {
                var moved = x.Contiguous().ToArray().Select((v, i) => (float)(counterfactual[Node.Embed][i] + alpha * (v - counterfactual[Node.Embed][i]))).ToArray();
                return Pinpoint.Engine.Tensors.Tensor.FromArray(moved, x.Shape.ToArray());
            }));
            metric.Backward(tape, run.Logits);
            for (int e = 0; e < expected.Length; e++)
            {
                var edge = forward.Graph.Edges[e];
                var gradient = run.Inputs[edge.To].Gradient;
                for (int i = 0; i < gradient.Length; i++) expected[e] += ((double)counterfactual[edge.From][i] - clean[edge.From][i]) * gradient[i] / steps;
            }
        }
        var scores = EdgeAttribution.Scores(forward, Clean, counterfactualIds, metric, igSteps);
        double largest = expected.Max(Math.Abs);
        Assert.True(largest > 1e-2, "the pair must move the metric");
        for (int e = 0; e < expected.Length; e++)
            Assert.True(Math.Abs(scores[e] - expected[e]) <= 1e-5 * largest, $"{forward.Graph.Edges[e]}: {scores[e]:G9} vs {expected[e]:G9}");
        Assert.Equal(scores, EdgeAttribution.Scores(forward, Clean, counterfactualIds, metric, igSteps));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void GraphHasEveryPortAndOnlyForwardEdges(string kind)
    {
        var model = Random(kind);
        var c = model.Config;
        var graph = new EdgeGraph(c);
        Assert.Equal(c.NLayers * (c.NHeads + 2 * c.NKvHeads + 1) + 1, graph.Ports.Count);
        Assert.Equal(1 + c.NLayers * (c.NHeads + 1), graph.Senders.Count);
        // Layer-0 heads receive only the embeddings; the logits receive every sender.
        Assert.All(graph.Edges.Where(e => e.To.Layer == 0 && e.To.NodeKind == NodeKind.Head), e => Assert.Equal(Node.Embed, e.From));
        Assert.Equal(graph.Senders.Count, graph.Edges.Count(e => e.To.NodeKind == NodeKind.Logits));
        // Heads of a layer feed that layer's MLP unless attention and MLP read the same residual stream.
        Assert.Equal(!c.ParallelResidual, graph.Edges.Any(e => e.From.Kind == NodeKind.Head && e.To.NodeKind == NodeKind.Mlp && e.From.Layer == e.To.Layer));
        // The senders feeding a port are the first ones, as many as it has edges; each edge's indices name its ends.
        Assert.All(graph.Ports, p => Assert.Equal(graph.Edges.Where(e => e.To == p).Select(e => e.From), graph.Senders.Take(graph.FeedingSenders(p))));
        Assert.All(Enumerable.Range(0, graph.Edges.Count), e =>
            Assert.Equal((graph.Edges[e].From, graph.Edges[e].To), (graph.Senders[graph.EdgeSenders[e]], graph.Ports[graph.EdgePorts[e]])));
        Assert.Equal("L0H1->L1H0.q", graph.Find("L0H1->L1H0.q").Name);
        var error = Assert.Throws<ArgumentException>(() => graph.Find("L0H1->L1H9.q"));
        Assert.Contains("L0H1->L1H", error.Message);
        if (kind == "llama-gqa")
        {
            var key = graph.Find("embed->L0G1.k").To;
            Assert.Equal([new Node(NodeKind.Head, 0, 2), new Node(NodeKind.Head, 0, 3)], key.Nodes(c));
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EdgeScoresAreTheDerivativeOfPathPatching(string kind)
    {
        // Cutting an edge toward a sender output ε of the way to the counterfactual's changes the metric by ε × score
        // to first order: a finite-difference check of the per-port gradients, edge by edge.
        var model = Random(kind);
        var forward = new EdgeForward(model);
        var readout = new LogitDiffReadout(model, 3, 4);
        var scores = EdgeAttribution.Scores(forward, Clean, Counterfactual, readout);
        var clean = forward.SenderOutputs(Clean);
        var counterfactual = forward.SenderOutputs(Counterfactual);
        const double Eps = 1e-2;
        var nudged = clean.ToDictionary(kv => kv.Key, kv => kv.Value.Zip(counterfactual[kv.Key], (a, b) => (float)(a + Eps * (b - a))).ToArray());
        double baseline = readout.FromLogits(forward.Run(Clean).Logits);
        var edges = forward.Graph.Edges;
        double largest = scores.Max(Math.Abs);
        for (int e = 0; e < edges.Count; e++)
        {
            double slope = (readout.FromLogits(forward.Run(Clean, x => x != edges[e], nudged).Logits) - baseline) / Eps;
            Assert.True(Math.Abs(slope - scores[e]) < 0.05 * Math.Abs(scores[e]) + 0.01 * largest, $"{edges[e]}: score {scores[e]:F4}, slope {slope:F4}");
        }
    }
}

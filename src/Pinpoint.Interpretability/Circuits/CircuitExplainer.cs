using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>
/// <c>pinpoint circuit</c> as a library call: prepares the predictions (counterfactuals found where none is given),
/// discovers and measures the circuit, reads out what each of its heads and MLPs does, and says it in sentences.
/// </summary>
public static class CircuitExplainer
{
    /// <summary>Tokens shown per readout, and edges of the whole graph listed beside the circuit.</summary>
    public const int ReadoutTokens = 5, TopEdgeCount = 20;

    public static CircuitReport Explain(LoadedModel loaded, IReadOnlyList<ExplainRequest> requests, CircuitOptions options,
        IReadOnlyList<string>? referencePrompts = null, Action<string, int, int>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        cancel.ThrowIfCancellationRequested();
        if (requests.Count == 0) throw new ArgumentException("no prompts to find a circuit for");
        if (requests.FirstOrDefault(r => r.CustomMetric is null && r.Metric is not (MetricKind.LogitDiff or MetricKind.LogProbDiff)) is { } other)
            throw new ArgumentException($"metric {other.Metric.ToString().ToLowerInvariant()}: faithfulness is a share of a target-vs-foil difference; use logit-diff or logprob-diff");
        var model = loaded.Model;
        var predictions = requests.Select(r => Prediction.Prepare(loaded, r)).ToList();
        var items = predictions.Select(p => new CircuitItem(p.Run, p.CounterfactualRun, p.Metric)).ToList();
        var reference = (referencePrompts ?? ExplainOptions.DefaultReferencePrompts).Select(p => Continuations.EncodePrompt(loaded, p, "reference prompt")).ToList();
        var forward = new EdgeForward(model);
        var result = CircuitDiscovery.Run(forward, items, reference, options, progress, cancel);

        CircuitEdge Edge(EdgeScore e) => new(e.Edge.From.Name, e.Edge.To.Name, e.Score, e.Edge.To.Nodes(model.Config).Select(n => n.Name).ToArray());
        var nodes = CircuitNodes(result.Circuit.Select(e => e.Edge), model.Config);
        var first = predictions[0];
        // Readouts are of the answer position: the prompt alone.
        var (_, cache) = model.RunWithCache(TokenBatch.Single(first.AnswerIds), Mechanisms.HookNamesNeeded(model.Config).Concat(EdgeForward.SenderHooks(model.Config)).ToHashSet().Contains, lastPositionOnly: true);
        var qk = new QkCircuits(model, loaded.Tokenizer);
        var readouts = nodes.Select(n => Readout(loaded, cache, qk, first.AnswerIds, n)).ToArray();
        if (nodes.Any(n => n.Kind == NodeKind.Mlp)) readouts = WithTopContexts(loaded, first, readouts, options);
        var report = new CircuitReport
        {
            Metric = first.Metric.Name,
            Unit = first.Metric.Unit,
            Method = options.IgSteps > 0 ? "eap_ig" : "eap",
            IgSteps = options.IgSteps,
            Items = result.Items,
            CountedItems = result.CountedItems,
            TotalEdges = forward.Graph.Edges.Count,
            RequestedEdges = result.Requested,
            TargetFaithfulness = options.Edges is null ? options.TargetFaithfulness : null,
            ReachedTarget = result.ReachedTarget,
            Edges = result.Circuit.Select(Edge).ToArray(),
            Nodes = readouts,
            Faithfulness = result.Faithfulness,
            RandomFaithfulness = result.RandomFaithfulness,
            Curve = [.. result.Curve],
            PathPatching = new PathPatchingCheck(result.PatchSpearman, result.Patched.Select(p => new PatchedEdge(p.Edge.Name, p.Estimate, p.Exact)).ToArray()),
            TopEdges = result.Ranked.Take(TopEdgeCount).Select(Edge).ToArray(),
            Summary = new ExplainSummary([], []),
        };
        return report with { Summary = Summarize(report) };
    }

    /// <summary>The circuit's nodes in layer order: embeddings, heads and MLPs layer by layer, logits.</summary>
    private static List<Node> CircuitNodes(IEnumerable<Edge> edges, TransformerConfig c)
    {
        var set = new HashSet<Node>();
        foreach (var e in edges)
        {
            set.Add(e.From);
            foreach (var n in e.To.Nodes(c)) set.Add(n);
        }
        return set.OrderBy(n => n.Layer).ThenBy(n => n.Kind == NodeKind.Mlp).ThenBy(n => n.Index).ToList();
    }

    private static CircuitNode Readout(LoadedModel loaded, ActivationCache cache, QkCircuits qk, int[] ids, Node node)
    {
        var model = loaded.Model;
        string kind = node.Kind.ToString().ToLowerInvariant();
        switch (node.Kind)
        {
            case NodeKind.Head:
                var head = Mechanisms.Head(model, loaded.Tokenizer, cache, ids, new Component(ComponentKind.Head, node.Layer, node.Index), ReadoutTokens);
                return new CircuitNode(node.Name, kind, node.Layer, node.Index, new HeadReadout([.. head.AttendsTo], [.. head.Promotes], head.Ov,
                    qk.Read(node.Layer, node.Index, ids[^1], ReadoutTokens)));
            case NodeKind.Mlp:
                var output = LogitLens.LastRow(cache[HookNames.MlpOut(node.Layer)]);
                return new CircuitNode(node.Name, kind, node.Layer, node.Index, Promotes: [.. Mechanisms.TopTokens(model, loaded.Tokenizer, output, ReadoutTokens, descending: true)]);
            default:
                return new CircuitNode(node.Name, kind, node.Layer, node.Index);
        }
    }

    /// <summary>
    /// Each MLP node with a neuron dashboard store for its layer gets the top contexts of its <see cref="CircuitOptions.ContextNeurons"/>
    /// neurons that carry most of the difference on the first item (by |attribution patching estimate|).
    /// </summary>
    private static CircuitNode[] WithTopContexts(LoadedModel loaded, Prediction first, CircuitNode[] nodes, CircuitOptions options)
    {
        var neurons = AttributionPatching.Run(loaded.Model, first.Run, first.CounterfactualRun, first.Metric, PatchDirection.Denoise).Neurons!;
        return nodes.Select(n =>
        {
            if (n.Kind != "mlp") return n;
            var top = neurons[n.Layer].Select((share, i) => (share, i)).OrderByDescending(x => Math.Abs(x.share)).Take(options.ContextNeurons)
                .Select(x => new Component(ComponentKind.Neuron, n.Layer, x.i));
            var contexts = NeuronContextReadout.For(loaded, top, options.DashboardFolder);
            return contexts.Count == 0 ? n : n with { TopContexts = contexts };
        }).ToArray();
    }

    private static ExplainSummary Summarize(CircuitReport r)
    {
        string P(double v) => double.IsFinite(v) ? ExplainSummary.Percent(v) : "undefined";
        var sentences = new List<string>();
        var caveats = new List<string>();
        string over = r.Items == 1 ? "this prediction" : $"the {r.CountedItems} items the model gets right (of {r.Items})";
        sentences.Add($"A circuit of {r.Edges.Length} edges (the top {r.RequestedEdges} of {r.TotalEdges} by {(r.Method == "eap" ? "edge attribution patching" : $"EAP with {r.IgSteps} integrated-gradient steps")}, pruned) between {r.Nodes.Length} nodes keeps "
            + $"{P(r.Faithfulness.Resample)} of the {(r.Metric == "logit_diff" ? "logit difference" : r.Metric)} over {over} when every other edge carries the counterfactual's activations, and {P(r.Faithfulness.Mean)} with mean ablation; "
            + $"random circuits of {r.Edges.Length} edges keep {P(r.RandomFaithfulness.Resample)} and {P(r.RandomFaithfulness.Mean)}.");
        if (r.Edges.Length > 0)
            sentences.Add("Strongest edges: " + string.Join(", ", r.Edges.Take(4).Select(e => $"{e.From} → {e.To} ({ExplainSummary.Logits(e.Score)})")) + $" (estimated change in {r.Unit} when the edge alone is cut).");
        foreach (var n in r.Nodes.Where(n => n.Head is not null).Take(3))
        {
            var h = n.Head!;
            sentences.Add($"{n.Name} attends from the last position mostly to {Quote(h.AttendsTo[0].Token)} (weight {h.AttendsTo[0].Weight:0.00}) and promotes {string.Join(", ", h.Promotes.Take(3).Select(t => Quote(t.Token)))}.");
        }
        if (r.TargetFaithfulness is { } target && !r.ReachedTarget)
            caveats.Add($"No circuit on the ranking reaches {P(target)} resample faithfulness; the whole graph is reported.");
        if (r.CountedItems == 0)
            caveats.Add("The model gets no item right: there is no difference for a circuit to keep, so faithfulness is undefined.");
        else if (r.CountedItems < r.Items)
            caveats.Add($"{r.Items - r.CountedItems} items where the foil wins are left out of faithfulness.");
        if (!double.IsFinite(r.PathPatching.Spearman))
            caveats.Add("The agreement of edge scores with exact path patching is undefined (too few edges checked).");
        else if (r.PathPatching.Spearman < 0.5)
            caveats.Add($"Edge scores agree only loosely with exact path patching (Spearman {r.PathPatching.Spearman:0.00}): the ranking is a first-order estimate.");
        if (r.Faithfulness.Resample > 1.2 || r.Faithfulness.Mean > 1.2)
            caveats.Add("Faithfulness above 100%: the edges left out work against the answer, so the circuit alone overshoots the full model.");
        return new ExplainSummary(sentences, caveats);
    }

    private static string Quote(string token) => Pinpoint.Models.Tokenizers.TokenDisplay.Quote(token);
}

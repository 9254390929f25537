using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Reports;

/// <summary>
/// A <see cref="CircuitReport"/> as one self-contained page: the answer, the circuit drawn as a layered graph (edge
/// width by score; clicking a node jumps to its readout — plain links, no scripts), the faithfulness curve, and
/// tables of edges, node readouts and the path-patching check.
/// </summary>
public static class CircuitHtmlReport
{
    public static string Render(CircuitReport report, string source) =>
        Html.Document("pinpoint circuit", ReportParts.Css,
            [Summary(report, source), Graph(report), Curve(report), EdgeTable(report), Readouts(report), PathPatching(report)]);

    public static HtmlFragment Summary(CircuitReport r, string source)
    {
        string P(double v) => double.IsFinite(v) ? ExplainSummary.Percent(v) : "undefined";
        return Html.Element("h1", "Circuit") + ReportParts.Answer(r.Summary) + Html.Properties(
        [
            ("prompts", ReportParts.Prompt(source)),
            ("items (target wins)", $"{r.Items} ({r.CountedItems})"),
            ("ranking", r.Method == "eap" ? "edge attribution patching" : $"EAP with {r.IgSteps} integrated-gradient steps"),
            ("circuit", $"{r.Edges.Length} edges (top {r.RequestedEdges} of {r.TotalEdges}, pruned), {r.Nodes.Length} nodes"),
            ("faithfulness (share of the full model's logit difference)", $"resample {P(r.Faithfulness.Resample)}, mean {P(r.Faithfulness.Mean)}"),
            ("random circuits of the same size", $"resample {P(r.RandomFaithfulness.Resample)}, mean {P(r.RandomFaithfulness.Mean)}"),
            ("edge scores vs exact path patching", "Spearman " + Html.Number(r.PathPatching.Spearman)),
        ]);
    }

    public static HtmlFragment Graph(CircuitReport r) =>
        Html.Section("graph", "The circuit",
            "Each edge is a sender's output read by a receiver through the residual stream; its width is the estimated change in the logit difference when that edge alone is cut. Hover for values; click a head or MLP for its readout.",
            GraphSvg(r));

    /// <summary>The circuit as a layered SVG graph. Columns: embeddings, each layer's heads and MLP, logits; edges dashed by the port they feed; nodes with a readout link to #node-NAME.</summary>
    public static HtmlFragment GraphSvg(CircuitReport r)
    {
        int layers = r.Nodes.Where(n => n.Kind == "logits").Select(n => n.Layer).DefaultIfEmpty(r.Nodes.Select(n => n.Layer + 1).DefaultIfEmpty(0).Max()).Max();
        var columns = new[] { "embeddings" }.Concat(Enumerable.Range(0, layers).Select(l => $"layer {l}")).Append("logits").ToList();
        var nodes = r.Nodes.Select(n => new GraphNode(n.Name, n.Name, n.Layer + 1, n.Name + ": " + ReadoutText(n), n.Head is not null || n.Promotes is not null ? "#node-" + n.Name : null)).ToList();
        static int Style(string port) => port.EndsWith(".q") ? 1 : port.EndsWith(".k") ? 2 : port.EndsWith(".v") ? 3 : 0;
        var names = r.Nodes.Select(n => n.Name).ToHashSet();
        var edges = r.Edges.SelectMany(e => e.ToNodes.Where(names.Contains)
            .Select(t => new GraphEdge(e.From, t, e.Score, $"{e.From} → {e.To}: {Html.Exact(e.Score)}", Style(e.To)))).ToList();
        return Svg.Render(new LayeredGraph("circuit", "Circuit", columns, nodes, edges, ["MLP / logits input", "query", "key", "value"]));
    }

    public static HtmlFragment Curve(CircuitReport r) =>
        Html.Section("curve", "Faithfulness against circuit size",
            "Share of the full model's logit difference kept when only the top edges (x) are live and every other edge carries the counterfactual's (resample) or the reference prompts' mean (mean) activations.",
            Svg.Render(new LineChart("faithfulness-curve", "Faithfulness by number of top edges", "share kept",
                r.Curve.Select(p => p.Edges.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
                [new LineSeries("resample", r.Curve.Select(p => p.Resample).ToList(), ReportParts.Red),
                 new LineSeries("mean", r.Curve.Select(p => p.Mean).ToList(), ReportParts.Blue, Dashed: true)])));

    public static HtmlFragment EdgeTable(CircuitReport r) =>
        Html.Section("edges", "Edges", "The circuit's edges by |score| (estimated change in logits when the edge alone is cut).",
            Html.Table("circuit edges", ["sender", "receiver", "score"], r.Edges.Select(e => (IReadOnlyList<HtmlFragment>)[e.From, e.To, Html.Number(e.Score)])));

    public static HtmlFragment Readouts(CircuitReport r) =>
        Html.Section("readouts", "What each node does", "On the first prompt: where each head attends from the last position, the tokens its output and its OV circuit promote, the source tokens its QK circuit favours from the last token (weights only); the tokens each MLP's output promotes, and, where a neuron dashboard store exists (pinpoint neurons), the top corpus contexts of the MLP's neurons that carry most of the difference.",
            HtmlFragment.Concat(r.Nodes.Where(n => n.Head is not null || n.Promotes is not null).Select(n =>
                Html.Element("p", Html.Element("strong", n.Name) + ": " + ReadoutText(n), ("id", "node-" + n.Name))
                + (n.TopContexts is { } contexts ? DashboardHtmlReport.NeuronContextsTable(contexts) : HtmlFragment.Concat([])))));

    public static HtmlFragment PathPatching(CircuitReport r) =>
        Html.Section("path-patching", "Edge scores against exact path patching",
            $"Each checked edge cut alone on an item (its sender's counterfactual output at that port only): Spearman {Html.Format(r.PathPatching.Spearman)}.",
            Svg.Render(new ScatterChart("path-patching", "Estimate vs exact", "edge score (estimate)", "path patching (exact)",
                r.PathPatching.Edges.Select(e => new ScatterPoint(e.Edge, e.Estimate, e.Exact)).ToList(), ReportParts.Red)));

    /// <summary>A node's readout in one line.</summary>
    public static string ReadoutText(CircuitNode n)
    {
        static string Tokens(IEnumerable<TokenScore> t) => string.Join(" ", t.Select(x => Pinpoint.Models.Tokenizers.TokenDisplay.Quote(x.Token)));
        if (n.Head is { } h)
            return $"attends to {string.Join(" ", h.AttendsTo.Take(3).Select(a => $"{Pinpoint.Models.Tokenizers.TokenDisplay.Quote(a.Token)}@{a.Position} {a.Weight:0.00}"))}; "
                + $"output promotes {Tokens(h.Promotes)}; OV circuit maps {Pinpoint.Models.Tokenizers.TokenDisplay.Quote(h.OvCircuit.SourceToken)} to {Tokens(h.OvCircuit.Promotes)}; "
                + $"QK circuit from {Pinpoint.Models.Tokenizers.TokenDisplay.Quote(h.QkCircuit.DestinationToken)} favours {Tokens(h.QkCircuit.Favours)}";
        var text = n.Promotes is { } p ? $"output promotes {Tokens(p)}" : n.Kind;
        if (n.TopContexts is { } contexts)
            text += "; top neurons fire on " + string.Join(", ", contexts.Where(c => c.Top.Count > 0)
                .Select(c => $"{c.Neuron} {Pinpoint.Models.Tokenizers.TokenDisplay.Quote(c.Top[0].Token)} (after \"…{Tail(c.Top[0].Before)}\")"));
        return text;
    }

    /// <summary>The last few characters of a context, enough to place its token.</summary>
    private static string Tail(string before) => before.Length <= 24 ? before : before[^24..];
}

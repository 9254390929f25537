using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint circuit</c>: which component feeds which — edge attribution, pruning and faithfulness checked by cutting every other edge.</summary>
public sealed class CircuitCommand : Command
{
    private static readonly CliOption Edges = new("edges", "N", "keep the top N edges (default: the smallest circuit reaching --target-faithfulness)");
    private static readonly CliOption TargetFaithfulness = new("target-faithfulness", "F", "resample faithfulness in (0, 1] the smallest circuit must reach (default 0.8)");
    private static readonly CliOption CurvePoints = new("curve-points", "P", "points of the faithfulness curve, 1 edge … all edges (default 30)");
    private static readonly CliOption RandomDraws = new("random", "R", "random circuits of the same size measured beside it (default 5)");
    private static readonly CliOption IgSteps = new("ig-steps", "S", "rank edges by EAP with S integrated-gradient steps (default 0: plain EAP)");
    // The same --metric as explain's (parsed by it), limited to differences: faithfulness is a share of one.
    private static readonly CliOption Metric = new(ExplainCommand.Metric.Name, "NAME", "the target-vs-foil difference a circuit keeps: logit-diff (at the first token where target and foil differ, the default) or logprob-diff (log p(target) − log p(foil), each teacher-forced over all its tokens)");
    private static readonly CliOption CheckEdges = new("check-edges", "LIST", "comma-separated edges (SENDER->PORT, e.g. L0H1->L1H0.k) to check by exact path patching (default: the top 10 and 10 random)");

    public override string Name => "circuit";
    public override string Summary => "find the circuit (edges between embeddings, heads, MLPs and logits) behind target vs foil, and measure its faithfulness";
    public override IReadOnlyList<CliOption> Options { get; } =
        [.. ModelOptions.All, ExplainCommand.Prompt, ExplainCommand.Target, ExplainCommand.Foil, ExplainCommand.Counterfactual, Metric, ExplainCommand.Dataset, ExplainCommand.Limit,
         Edges, TargetFaithfulness, CurvePoints, RandomDraws, IgSteps, CheckEdges, ExplainCommand.HtmlFile, ExplainCommand.Dashboards];
    public override Type ResultType => typeof(CircuitReport);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var dataset = args.String(ExplainCommand.Dataset);
        var requests = dataset is null
            ? [ExplainCommand.Request(args)]
            : ExplainCommand.DatasetItems(args, dataset).Select(i => new ExplainRequest(i.Prompt, i.Target, i.Foil, i.Counterfactual) { Metric = ExplainCommand.MetricOption(args) }).ToList();
        if (args.String(Edges) is not null && args.String(TargetFaithfulness) is not null)
            throw new CliException("--edges fixes the size; --target-faithfulness searches for it: give one");
        var options = new CircuitOptions
        {
            Edges = args.String(Edges) is null ? null : args.Int(Edges, 0),
            TargetFaithfulness = args.Double(TargetFaithfulness) ?? 0.8,
            CurvePoints = args.Int(CurvePoints, 30, min: 1),
            RandomDraws = args.Int(RandomDraws, 5, min: 1),
            IgSteps = args.Int(IgSteps, 0, min: 0),
            CheckEdges = args.String(CheckEdges)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            DashboardFolder = ExplainCommand.DashboardFolder(args),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            // The library speaks of its options; name the flag.
            throw new ArgumentException($"--{(options.Edges is < 1 ? Edges.Name : TargetFaithfulness.Name)}: {e.Message}", e);
        }
        var htmlPath = HtmlOutput.ReportPath(args, ExplainCommand.HtmlFile);
        using var loaded = ModelOptions.Open(args, output);
        var graph = new EdgeGraph(loaded.Model.Config);
        foreach (var edge in options.CheckEdges ?? [])
        {
            try
            {
                graph.Find(edge);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--{CheckEdges.Name}: {e.Message}", e);
            }
        }
        var report = ExplainDatasetView.Run(progress => CircuitExplainer.Explain(loaded, requests, options, progress: progress), output) with { Html = htmlPath };
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, CircuitHtmlReport.Render(report, dataset ?? requests[0].Prompt));
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static void Render(CircuitReport r, CommandOutput output)
    {
        foreach (var sentence in r.Summary.Sentences) output.Text.WriteLine(sentence);
        foreach (var caveat in r.Summary.Caveats) output.Text.WriteLine("Caveat: " + caveat);
        output.Text.WriteLine();
        string P(double v) => double.IsFinite(v) ? ExplainSummary.Percent(v) : "undefined";
        output.WriteProperties([
            ("items (target wins)", $"{r.Items} ({r.CountedItems})"),
            ("ranking", r.Method == "eap" ? "edge attribution patching" : $"EAP-IG, {r.IgSteps} steps"),
            ("circuit", $"{r.Edges.Length} edges after pruning the top {r.RequestedEdges} of {r.TotalEdges}; {r.Nodes.Length} nodes"),
            ($"faithfulness (share of the full model's {r.Metric})", $"resample {P(r.Faithfulness.Resample)}, mean {P(r.Faithfulness.Mean)}"),
            ("random circuits, same size", $"resample {P(r.RandomFaithfulness.Resample)}, mean {P(r.RandomFaithfulness.Mean)}"),
            ("edge scores vs exact path patching", $"Spearman {CommandOutput.Number(r.PathPatching.Spearman)} over {r.PathPatching.Edges.Length} edge × item pairs"),
        ]);
        var edges = CommandOutput.NewTable("edge", $"score (Δ {r.Metric} in {r.Unit} when cut alone, estimated)");
        foreach (var e in r.Edges) CommandOutput.AddRow(edges, $"{e.From} → {e.To}", CommandOutput.Number(e.Score));
        output.Write(edges);
        var curve = CommandOutput.NewTable("top edges", "after pruning", "faithfulness, resample", "faithfulness, mean");
        foreach (var p in r.Curve) CommandOutput.AddRow(curve, CommandOutput.Int(p.Edges), CommandOutput.Int(p.PrunedEdges), P(p.Resample), P(p.Mean));
        output.Write(curve);
        var nodes = CommandOutput.NewTable("node", "readout");
        foreach (var n in r.Nodes.Where(n => n.Head is not null || n.Promotes is not null)) CommandOutput.AddRow(nodes, n.Name, CircuitHtmlReport.ReadoutText(n));
        output.Write(nodes);
    }
}

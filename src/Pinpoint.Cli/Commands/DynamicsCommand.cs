using Pinpoint.Interpretability.Concepts;
using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint dynamics</c>: a training run's checkpoints as a timeline of mechanisms.</summary>
public sealed class DynamicsCommand : Command
{
    private static readonly CliOption RunFolder = new("run", "DIR", "a 'pinpoint train' output folder, or a folder of checkpoint folders");
    private static readonly CliOption Dataset = new("dataset", "FILE", "score dataset (JSONL prompt/target/foil[/counterfactual]): accuracy and top components by attribution patching per checkpoint");
    private static readonly CliOption Top = new("top", "K", $"components per checkpoint's top set (default {DynamicsAnalysis.DefaultTop})");
    private static readonly CliOption Concepts = new("concepts", "FILE", $"concept set (probe JSONL text/label): the best residual-stream probe's held-out accuracy per checkpoint ({DynamicsAnalysis.ProbeFolds} grouped folds)");
    private static readonly CliOption VerifyAt = new("verify-at", "STEPS", $"comma-separated checkpoint steps (at most {DynamicsAnalysis.MaxVerified}) whose top set is checked by mean and resample ablation, or 'none' (default with --dataset: first, middle and final)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report to FILE (aligned curves, a checkpoint slider over the layer × head heatmap, mechanisms)");

    public override string Name => "dynamics";
    public override string Summary => "every checkpoint of a training run: loss, induction/previous-token scores, dataset accuracy, top components and probe accuracy; phase changes and when each mechanism formed";
    public override IReadOnlyList<CliOption> Options { get; } = [RunFolder, Dataset, Top, Concepts, VerifyAt, HtmlFile];
    public override Type ResultType => typeof(DynamicsReport);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var run = args.RequiredString(RunFolder);
        int top = args.Int(Top, DynamicsAnalysis.DefaultTop, min: 1);
        var dataset = args.String(Dataset) is { } path ? EvalDataset.ReadScoreItems(path) : null;
        var concepts = args.String(Concepts) is { } conceptPath ? ProbeDataset.Read(conceptPath, DynamicsAnalysis.ProbeFolds) : null;
        int[]? verifyAt = args.String(VerifyAt) == "none" ? [] : args.IntList(VerifyAt);
        if (verifyAt is not null && dataset is null) throw new CliException("--verify-at checks the dataset's top components; it needs --dataset");
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        var report = DynamicsAnalysis.Run(run, new DynamicsOptions(dataset, top, concepts, verifyAt), output.Note, StderrProgress.Create());
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, DynamicsHtmlReport.Render(report));
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static void Render(DynamicsReport r, CommandOutput output)
    {
        string F(double? v) => v is { } x ? CommandOutput.Number(x) : "-";
        var table = CommandOutput.NewTable("step", "tokens", "val loss", "induction", "prev-token", "rep. loss", "accuracy", "logit diff", "probe", "top components");
        foreach (var c in r.Checkpoints)
            CommandOutput.AddRow(table, CommandOutput.Int(c.Step), c.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture), F(c.ValLoss),
                F(c.Induction), F(c.PrevToken), F(c.RepeatedHalfLoss), F(c.DatasetAccuracy), F(c.LogitDiff), F(c.Probe?.Accuracy),
                string.Join(", ", c.TopComponents.Select(t => $"{t.Component} {CommandOutput.Number(t.Effect, "+0.00;-0.00;0.00")}")));
        output.Write(table);
        foreach (var p in r.PhaseChanges)
            output.Text.WriteLine($"phase change: {p.Metric} moves fastest between steps {p.FromStep} and {p.Step} ({CommandOutput.Number(p.Size, "+0.000;-0.000;0.000")})");
        foreach (var f in r.Formation)
            output.Text.WriteLine($"formed: {f.Component} reaches half its final effect ({CommandOutput.Number(f.FinalEffect, "+0.00;-0.00;0.00")}) at step {(f.StepHalf is { } s ? CommandOutput.Int(s) : "- (final effect 0)")}");
        if (r.ConceptFormation is { } concept)
            output.Text.WriteLine($"concepts: the probe reaches half its final accuracy above chance ({CommandOutput.Number(concept.FinalAccuracy)} vs chance {CommandOutput.Number(concept.Baseline)}) at step {(concept.StepHalf is { } s ? CommandOutput.Int(s) : "- (final probe at chance)")}");
        if (r.EarlyStep is { } early)
            output.Text.WriteLine($"early top set (step {early}, where the logit difference reaches half its final value) holds {CommandOutput.Number(r.EarlyOverlap!.Value * 100, "F0")}% of the final top set");
        else if (r.Formation.Count > 0)
            output.Text.WriteLine("no early top set: the last checkpoint does not prefer the targets on average (logit difference ≤ 0)");
        foreach (var v in r.Verification ?? [])
            output.Text.WriteLine($"ablation at step {v.Step}: {string.Join(", ", v.Components)} together remove {Percent(v.MeanAblation.TopKFractionRemoved)} (mean) / {Percent(v.ResampleAblation.TopKFractionRemoved)} (resample) of the difference; random sets {Percent(v.MeanAblation.RandomKFractionRemoved)} / {Percent(v.ResampleAblation.RandomKFractionRemoved)}");
    }

    private static string Percent(double share) => CommandOutput.Number(share * 100, "F0") + "%";
}

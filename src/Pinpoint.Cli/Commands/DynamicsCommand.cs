using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Evaluation;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint dynamics</c>: a training run's checkpoints as a timeline of mechanisms.</summary>
public sealed class DynamicsCommand : Command
{
    private static readonly CliOption RunFolder = new("run", "DIR", "a 'pinpoint train' output folder, or a folder of checkpoint folders");
    private static readonly CliOption Dataset = new("dataset", "FILE", "score dataset (JSONL prompt/target/foil[/counterfactual]): accuracy and top components by attribution patching per checkpoint");
    private static readonly CliOption Top = new("top", "K", $"components per checkpoint's top set (default {DynamicsAnalysis.DefaultTop})");

    public override string Name => "dynamics";
    public override string Summary => "every checkpoint of a training run: loss, induction/previous-token scores, dataset accuracy and top components; phase changes and when each mechanism formed";
    public override IReadOnlyList<CliOption> Options { get; } = [RunFolder, Dataset, Top];
    public override Type ResultType => typeof(DynamicsReport);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var run = args.RequiredString(RunFolder);
        int top = args.Int(Top, DynamicsAnalysis.DefaultTop, min: 1);
        var dataset = args.String(Dataset) is { } path ? EvalDataset.ReadScoreItems(path) : null;
        var report = DynamicsAnalysis.Run(run, dataset, top, output.Note, StderrProgress.Create());
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        return 0;
    }

    private static void Render(DynamicsReport r, CommandOutput output)
    {
        string F(double? v) => v is { } x ? CommandOutput.Number(x) : "-";
        var table = CommandOutput.NewTable("step", "tokens", "val loss", "induction", "prev-token", "accuracy", "logit diff", "top components");
        foreach (var c in r.Checkpoints)
            CommandOutput.AddRow(table, CommandOutput.Int(c.Step), c.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture), F(c.ValLoss),
                F(c.Induction), F(c.PrevToken), F(c.DatasetAccuracy), F(c.LogitDiff),
                string.Join(", ", c.TopComponents.Select(t => $"{t.Component} {CommandOutput.Number(t.Effect, "+0.00;-0.00;0.00")}")));
        output.Write(table);
        foreach (var p in r.PhaseChanges)
            output.Text.WriteLine($"phase change: {p.Metric} moves fastest between steps {p.FromStep} and {p.Step} ({CommandOutput.Number(p.Size, "+0.000;-0.000;0.000")})");
        foreach (var f in r.Formation)
            output.Text.WriteLine($"formed: {f.Component} reaches half its final effect ({CommandOutput.Number(f.FinalEffect, "+0.00;-0.00;0.00")}) at step {(f.StepHalf is { } s ? CommandOutput.Int(s) : "- (final effect 0)")}");
        if (r.EarlyStep is { } early)
            output.Text.WriteLine($"early top set (step {early}, where the logit difference reaches half its final value) holds {CommandOutput.Number(r.EarlyOverlap!.Value * 100, "F0")}% of the final top set");
        else if (r.Formation.Count > 0)
            output.Text.WriteLine("no early top set: the last checkpoint does not prefer the targets on average (logit difference ≤ 0)");
    }
}

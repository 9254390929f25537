using System.Globalization;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint probe</c>: linear probes at the last token of each text, per hook, with controls.</summary>
public sealed class ProbeCommand : Command
{
    private static readonly CliOption Dataset = new("dataset", "FILE", "JSONL lines {\"text\",\"label\"} (classes) or {\"text\",\"value\"} (a number: ridge)");
    private static readonly CliOption Hooks = new("hooks", "PATTERN", "comma-separated hook names with * wildcards (default: hook_embed,blocks.*.hook_resid_post)");
    private static readonly CliOption Method = new("method", "M", "logistic (default for classes), mass-mean or ridge (default and only choice for values)");
    private static readonly CliOption Folds = new("folds", "K", "cross-validation folds (default 5); identical texts are never split");
    private static readonly CliOption Permutations = new("permutations", "N", "label permutations for the p-value (default 100)");
    private static readonly CliOption Seed = new("seed", "S", "seed of folds, control labels and permutations (default 0)");
    private static readonly CliOption Save = new("save", "FILE", "where to save the best hook's probe (default: DATASET-NAME.probe.safetensors in the current folder; not with --checkpoints)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report to FILE");

    public override string Name => "probe";
    public override string Summary => "linear probes per layer: held-out accuracy (or R²) with 95% CI, baseline, control task, selectivity, p-value";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Dataset, Hooks, Method, Folds, Permutations, Seed, Save, HtmlFile, CheckpointsOption.Option];
    public override Type ResultType => typeof(ProbeReport);
    public override IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [("--checkpoints", typeof(ProbeAcrossTraining))];

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var path = args.RequiredString(Dataset);
        var options = new ProbeOptions
        {
            Folds = args.Int(Folds, 5, min: 2),
            Permutations = args.Int(Permutations, 100, min: 0),
            Seed = args.Int(Seed, 0),
        };
        var dataset = ProbeDataset.Read(path, options.Folds);
        options = options with { Method = ParseMethod(args.String(Method), dataset.IsRegression) };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        if (CheckpointsOption.Run(args) is { } run)
        {
            var sweep = AcrossTraining.Probe(run, dataset, args.String(Hooks), options, output.Note, StderrProgress.Create());
            if (htmlPath is not null) HtmlOutput.Write(htmlPath, AcrossTrainingHtmlReport.Render(sweep));
            if (output.Json) output.WriteJson(sweep);
            else RenderSteps(sweep, output);
            HtmlOutput.Wrote(htmlPath, output);
            return 0;
        }
        var savePath = Path.GetFullPath(args.String(Save) ?? Path.GetFileNameWithoutExtension(path) + ".probe.safetensors");
        using var loaded = ModelOptions.Open(args);
        var report = Prober.Run(loaded, dataset, AcrossTraining.Hooks(loaded, args.String(Hooks)), options, StderrProgress.Create());
        report.Fitted!.Save(savePath);
        report = report with { ProbeFile = savePath };
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, ProbeHtmlReport.Render(report));
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    public static ProbeMethod ParseMethod(string? name, bool regression) => name switch
    {
        null => regression ? ProbeMethod.Ridge : ProbeMethod.Logistic,
        "logistic" when !regression => ProbeMethod.Logistic,
        "mass-mean" when !regression => ProbeMethod.MassMean,
        "ridge" => ProbeMethod.Ridge,
        "logistic" or "mass-mean" => throw new CliException($"--method {name} needs class labels; numeric values use ridge"),
        _ => throw new CliException($"--method must be logistic, mass-mean or ridge, got '{name}'"),
    };

    private static void Render(ProbeReport r, CommandOutput output)
    {
        bool classes = r.Classes is not null;
        var table = classes
            ? CommandOutput.NewTable("hook", "accuracy", "± 95%", "baseline", "control", "selectivity", "p")
            : CommandOutput.NewTable("hook", "R²", "± 95%", "Spearman", "baseline R²", "shuffled R²", "proximity error", "p");
        foreach (var l in r.Layers)
        {
            if (classes)
                CommandOutput.AddRow(table, l.Hook, F(l.Accuracy!.Value.Mean), F(l.Accuracy.Value.Ci95), F(l.Baseline), F(l.ControlAccuracy!.Value), F(l.Selectivity!.Value), P(l.PValue));
            else
                CommandOutput.AddRow(table, l.Hook, F(l.R2!.Value.Mean), F(l.R2.Value.Ci95), F(l.Spearman!.Value.Mean), F(l.Baseline), F(l.ControlR2!.Value), F(l.ProximityError!.Value), P(l.PValue));
        }
        output.Write(table);
        output.Text.WriteLine($"{r.Items} items, {r.Method}, {r.Folds}-fold CV, {r.Permutations} permutations; best: {r.Best.Hook}");
        output.Text.WriteLine($"probe saved to {r.ProbeFile}");
    }

    /// <summary>One row per checkpoint: the best hook and its score, and each hook's held-out score.</summary>
    private static void RenderSteps(ProbeAcrossTraining sweep, CommandOutput output)
    {
        var hooks = sweep.Checkpoints[0].Report.Layers.Select(l => l.Hook).ToList();
        var table = CommandOutput.NewTable(["step", "tokens", "best hook", .. hooks.Select(ProbeHtmlReport.Short)]);
        foreach (var c in sweep.Checkpoints)
            CommandOutput.AddRow(table, [c.Step.ToString(CultureInfo.InvariantCulture), c.Tokens.ToString("N0", CultureInfo.InvariantCulture), c.Report.Best.Hook,
                .. c.Report.Layers.Select(l => F((l.Accuracy ?? l.R2)!.Value.Mean))]);
        output.Write(table);
        var r = sweep.Checkpoints[0].Report;
        output.Text.WriteLine($"{sweep.Checkpoints.Length} checkpoints of {sweep.Run}; {r.Items} items, {r.Method}, held-out {(r.Classes is null ? "R²" : "accuracy")} per hook (--json has every number per step)");
    }

    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
    private static string P(double v) => v.ToString("G3", CultureInfo.InvariantCulture);
}

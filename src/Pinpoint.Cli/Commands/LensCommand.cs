using System.Globalization;
using Pinpoint.Interpretability.Lens;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint lens</c>: the logit lens and the tuned lens side by side over one prompt.</summary>
public sealed class LensCommand : Command
{
    private static readonly CliOption Prompt = new("prompt", "TEXT", "the prompt to read at every stage and position");
    private static readonly CliOption Tuned = new("tuned", "DIR", "tuned lens folder from 'pinpoint lens train' (default: MODEL/tuned-lens when it exists)");
    private static readonly CliOption Top = new("top", "N", "top tokens per cell (default 5)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report to FILE");

    public override string Name => "lens";
    public override string Summary => "logit lens and tuned lens side by side: top tokens per layer and position, KL to the final distribution";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Prompt, Tuned, Top, HtmlFile];
    public override Type ResultType => typeof(LensReport);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var prompt = args.RequiredString(Prompt);
        int top = args.Int(Top, 5, min: 1, max: 100);
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args);
        var folder = args.String(Tuned) ?? TunedLens.DefaultFolder(loaded.Path);
        var tuned = folder is null ? null : TunedLens.Load(folder, loaded.Model.Config);
        var report = LensAnalysis.Run(loaded, prompt, tuned, folder is null ? null : Path.GetFullPath(folder), top);
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, LensHtmlReport.Render(report));
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static void Render(LensReport r, CommandOutput output)
    {
        bool tuned = r.TunedLens is not null;
        var table = CommandOutput.NewTable(["stage", "lens", "KL", .. r.Tokens.Select((t, i) => $"{i} {TokenDisplay.Quote(t)}")]);
        foreach (var s in r.Stages)
        {
            CommandOutput.AddRow(table, [s.Stage, "logit", F(s.LogitLensKl), .. s.LogitLens.Select(Cell)]);
            if (tuned) CommandOutput.AddRow(table, [s.Stage, "tuned", F(s.TunedLensKl!.Value), .. s.TunedLens!.Select(Cell)]);
        }
        CommandOutput.AddRow(table, ["output", "model", "0", .. r.Output.Select(Cell)]);
        output.Write(table);
        output.Text.WriteLine(tuned ? $"tuned lens: {r.TunedLens}" : "no tuned lens (train one with 'pinpoint lens train', pass --tuned DIR)");
    }

    private static string Cell(LensCell c) => TokenDisplay.Quote(c.Top[0].Token);
    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
}

/// <summary><c>pinpoint lens train</c>: trains a tuned lens's translators on a corpus and reports held-out KL for both lenses.</summary>
public sealed class LensTrainCommand : Command
{
    private static readonly CliOption Corpus = new("corpus", "FILES", "comma-separated corpus files (.txt, .jsonl with a \"text\" field, WordNet .tsv); training uses the trainer's train split, the KL its validation split");
    private static readonly CliOption Out = new("out", "DIR", "folder for tuned-lens.safetensors and tuned-lens.json");
    private static readonly CliOption Steps = new("steps", "N", "optimizer steps (default 150)");
    private static readonly CliOption BatchSize = new("batch-size", "N", "windows per step (default 4)");
    private static readonly CliOption Context = new("context", "N", "tokens per window (default 128)");
    private static readonly CliOption LearningRate = new("lr", "X", "AdamW learning rate (default 0.001)");
    private static readonly CliOption HeldOut = new("held-out", "N", "held-out windows for the KL report (default 16)");

    public override string Name => "lens train";
    public override string Summary => "train a tuned lens (an affine translator per layer) on a corpus; reports held-out KL against the logit lens";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Corpus, Out, Steps, BatchSize, Context, LearningRate, HeldOut];
    public override Type ResultType => typeof(TunedLensInfo);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var corpus = args.RequiredString(Corpus).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var file in corpus)
            if (!File.Exists(file)) throw new CliException($"--corpus: {file} does not exist");
        var outDir = args.RequiredString(Out);
        var options = new TunedLensOptions
        {
            Steps = args.Int(Steps, 150, min: 1), BatchSize = args.Int(BatchSize, 4, min: 1), Context = args.Int(Context, 128, min: 2),
            LearningRate = args.Float(LearningRate, 1e-3f), HeldOutWindows = args.Int(HeldOut, 16, min: 1),
        };
        if (!(options.LearningRate > 0)) throw new CliException($"--lr must be positive, got {options.LearningRate}");
        using var loaded = ModelOptions.Open(args);
        if (options.Context > loaded.Model.Config.ContextLength)
            throw new CliException($"--context {options.Context} exceeds the model's context of {loaded.Model.Config.ContextLength}");
        var (lens, info) = TunedLensTrainer.Train(loaded, corpus, options, StderrProgress.Create());
        lens.Save(outDir, info);
        if (output.Json) output.WriteJson(info);
        else
        {
            var table = CommandOutput.NewTable("stage", "hook", "logit lens KL", "tuned lens KL");
            foreach (var s in info.HeldOut)
                CommandOutput.AddRow(table, s.Stage, s.Hook, s.LogitLensKl.ToString("F3", CultureInfo.InvariantCulture), s.TunedLensKl.ToString("F3", CultureInfo.InvariantCulture));
            output.Write(table);
            output.Text.WriteLine($"{info.Steps} steps on {info.TrainTokens:N0} tokens; KL (nats/token) on {info.HeldOutTokens:N0} held-out tokens; saved to {Path.GetFullPath(outDir)}");
        }
        return 0;
    }
}

using System.Globalization;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Loading;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint concepts</c>: concept directions, neurons, weight alignment and causal tests per class.</summary>
public sealed class ConceptsCommand : Command
{
    private static readonly CliOption Dataset = new("dataset", "FILE", "JSONL lines {\"text\",\"label\"}; everything is read at the last token of each text");
    private static readonly CliOption ClassWords = new("class-words", "LIST",
        "CLASS=WORD,... : the word whose next-token logit the causal test reads for each class (default: the class name; the first token of \" WORD\")");
    private static readonly CliOption Folds = new("folds", "K", "cross-validation folds (default 5)");
    private static readonly CliOption Seed = new("seed", "S", "seed of folds, shuffles and random directions (default 0)");
    private static readonly CliOption Shuffles = new("shuffles", "N", "shuffled-label directions for the weight-alignment null (default 20)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report to FILE");

    public override string Name => "concepts";
    public override string Summary => "concept directions per layer, concept neurons (k-sparse probes), weight alignment vs shuffled labels, causal add/ablate tests";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Dataset, ClassWords, Folds, Seed, Shuffles, HtmlFile, CheckpointsOption.Option];
    public override Type ResultType => typeof(ConceptReport);
    public override IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [("--checkpoints", typeof(ConceptsAcrossTraining))];

    public override int Execute(CliArgs args, CommandOutput output)
    {
        int folds = args.Int(Folds, 5, min: 2);
        var dataset = ProbeDataset.Read(args.RequiredString(Dataset), folds);
        if (dataset.IsRegression) throw new CliException($"{dataset.Path} has numeric values; concepts needs class labels (use probe --method ridge for values)");
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        var words = ParseClassWords(args.String(ClassWords), dataset.Classes);
        ConceptOptions Options(LoadedModel loaded) => new()
        {
            Folds = folds, Seed = args.Int(Seed, 0), Shuffles = args.Int(Shuffles, 20, min: 0),
            ClassTokens = words.Select(w => loaded.Tokenizer.Encode(" " + w, addBos: false) is { Length: > 0 } ids ? ids[0] : throw new CliException($"--class-words: '{w}' encodes to no tokens")).ToArray(),
        };
        if (CheckpointsOption.Run(args) is { } run)
        {
            var sweep = AcrossTraining.Concepts(run, dataset, Options, output.Note, StderrProgress.Create());
            if (htmlPath is not null) HtmlOutput.Write(htmlPath, AcrossTrainingHtmlReport.Render(sweep));
            if (output.Json) output.WriteJson(sweep);
            else RenderSteps(sweep, output);
            HtmlOutput.Wrote(htmlPath, output);
            return 0;
        }
        using var loaded = ModelOptions.Open(args);
        var report = ConceptAnalysis.Run(loaded, dataset, Options(loaded), StderrProgress.Create());
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, ConceptsHtmlReport.Render(report));
        if (output.Json) output.WriteJson(report);
        else Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static string[] ParseClassWords(string? list, string[] classes)
    {
        var words = (string[])classes.Clone();
        if (list is null) return words;
        foreach (var pair in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = pair.IndexOf('=');
            int k = eq <= 0 ? -1 : Array.IndexOf(classes, pair[..eq]);
            if (k < 0 || eq == pair.Length - 1)
                throw new CliException($"--class-words: '{pair}' is not CLASS=WORD with a class of the dataset ({string.Join(", ", classes)})");
            words[k] = pair[(eq + 1)..];
        }
        return words;
    }

    private static void Render(ConceptReport r, CommandOutput output)
    {
        var layers = CommandOutput.NewTable(["hook", "mass-mean accuracy", .. r.Classes.Select(c => $"AUC {c}")]);
        foreach (var l in r.Layers) CommandOutput.AddRow(layers, [l.Hook, F(l.Accuracy), .. l.Auc.Select(F)]);
        output.Write(layers);
        output.Text.WriteLine($"{r.Items} items, {r.Folds}-fold CV; best hook: {r.BestHook}");
        var classes = CommandOutput.NewTable("class", "top neuron", "F1 k=1/4/32 vs dense", "max |cos| W_in / W_out / W_E (shuffled)", "causal: add direction (random)");
        foreach (var c in r.PerClass)
        {
            var n = c.TopNeurons.FirstOrDefault();
            string F1(int k) => Array.IndexOf(c.Sparse.K, k) is var i and >= 0 ? F(c.Sparse.F1[i]) : "-";
            string Align(string kind) => c.Alignment.Single(a => a.Kind == kind) is var a ? $"{F(a.MaxAbsCosine)} ({F(a.ShuffledMean)}, p {P(a.PValue)})" : "";
            CommandOutput.AddRow(classes, c.Class, n is null ? "-" : $"{n.Hook} #{n.Neuron} ({n.MeanDifference:+0.00;-0.00})",
                $"{F1(1)}/{F1(4)}/{F1(32)} vs {F(c.Sparse.DenseF1)}", $"{Align("mlp_in")} / {Align("mlp_out")} / {Align("embed")}",
                $"{CommandOutput.Quote(c.Causal.Token)} {c.Causal.Effect:+0.000;-0.000} ({c.Causal.RandomMean:+0.000;-0.000} ± {F(c.Causal.RandomSd)})");
        }
        output.Write(classes);
        var a = r.Ablation;
        output.Text.WriteLine($"projecting the {a.Dimensions} class direction(s) out at {a.Hook}: mass-mean accuracy at {a.DownstreamHook} {F(a.AccuracyBefore)} → {F(a.AccuracyAfter)} (random subspace: {F(a.RandomSubspaceAfter)})");
    }

    /// <summary>One row per checkpoint: the best hook, its mass-mean accuracy, and each class's causal effect.</summary>
    private static void RenderSteps(ConceptsAcrossTraining sweep, CommandOutput output)
    {
        var classes = sweep.Checkpoints[0].Report.Classes;
        var table = CommandOutput.NewTable(["step", "tokens", "best hook", "mass-mean accuracy", .. classes.Select(c => $"causal {c} (random)")]);
        foreach (var c in sweep.Checkpoints)
        {
            var r = c.Report;
            double best = r.Layers.Single(l => l.Hook == r.BestHook).Accuracy;
            CommandOutput.AddRow(table, [c.Step.ToString(CultureInfo.InvariantCulture), c.Tokens.ToString("N0", CultureInfo.InvariantCulture), r.BestHook, F(best),
                .. r.PerClass.Select(k => $"{k.Causal.Effect:+0.000;-0.000} ({k.Causal.RandomMean:+0.000;-0.000})")]);
        }
        output.Write(table);
        output.Text.WriteLine($"{sweep.Checkpoints.Length} checkpoints of {sweep.Run}; --json has every number per step");
    }

    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
    private static string P(double v) => v.ToString("G2", CultureInfo.InvariantCulture);
}

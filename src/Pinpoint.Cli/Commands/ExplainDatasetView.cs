using Pinpoint.Interpretability.Explain;
using Spectre.Console;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint explain --dataset</c>: the terminal summary of a dataset-level explanation.</summary>
public static class ExplainDatasetView
{
    /// <summary>Runs long work with a progress bar per phase on an interactive terminal (never with --json or redirected output).</summary>
    public static T Run<T>(Func<Action<string, int, int>?, T> explain, CommandOutput output) where T : class
    {
        if (output.Json || !AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected) return explain(null);
        T? report = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                report = explain((phase, done, total) =>
                {
                    if (!tasks.TryGetValue(phase, out var task)) tasks[phase] = task = ctx.AddTask(phase, maxValue: total);
                    task.Value = done;
                });
            });
        return report!;
    }

    public static void Render(DatasetExplainReport r, CommandOutput output)
    {
        string N(double v) => CommandOutput.Number(v);
        string P(double v) => CommandOutput.Number(v, "P1");
        string Pm(Interval x) => $"{N(x.Mean)} ± {CommandOutput.Number(x.HalfWidth95, "F3")}";
        string Check(DatasetVerificationSummary v) => $"{string.Join(", ", v.Components.Select(c => c.Name))}: resample {P(v.Resample.TopKFractionRemoved)} removed (random {v.K}: {P(v.Resample.RandomKFractionRemoved)}); " +
            $"mean {P(v.Mean.TopKFractionRemoved)} (random: {P(v.Mean.RandomKFractionRemoved)})";
        output.WriteProperties([
            ("dataset", r.Dataset),
            ("items", $"{CommandOutput.Int(r.ItemCount)} ({CommandOutput.Int(r.Correct)} where the target wins)"),
            ("logit difference", Pm(r.LogitDiff)),
            ("metric", $"{r.Metric} ({r.Unit})"),
            ("clean − counterfactual", $"{Pm(r.Effect)} {r.Unit}"),
            ("attribution vs activation patching", $"Spearman per item {Pm(r.Spearman.ItemMean)}; on the dataset means {N(r.Spearman.Pooled)}"),
            ($"ablating the top-{r.Verification.K} in every item", Check(r.Verification)),
            ("fractions", $"of the total difference over the {CommandOutput.Int(r.Verification.Resample.Items)} items where the target wins"),
            ($"ablating each item's own top-{r.OwnTopK.K}", $"resample: {P(r.OwnTopK.Resample.MeanItemFraction)} removed on average per item (random {r.OwnTopK.K}: " +
                $"{P(r.OwnTopK.Resample.MeanItemRandomFraction)}), {P(r.OwnTopK.Resample.TopKFractionRemoved)} of the total; mean: " +
                $"{P(r.OwnTopK.Mean.MeanItemFraction)} per item (random: {P(r.OwnTopK.Mean.MeanItemRandomFraction)})"),
        ]);
        var lens = CommandOutput.NewTable("logit lens", "target − foil (mean ± 95% CI)");
        foreach (var l in r.LogitLens) CommandOutput.AddRow(lens, l.Stage, Pm(l.LogitDiff));
        output.Write(lens);
        WriteComponents(output, $"heads and MLPs (patching effect, {r.Unit})", r.Components.Where(c => c.Consistency != Consistency.Negligible).Take(15));
        WriteComponents(output, $"neurons (attribution estimate, {r.Unit})", r.Neurons.Take(10));
        var specific = CommandOutput.NewTable("only in some items", "items where it alone moves ≥ 25% of the effect");
        foreach (var c in r.Components.Concat(r.Neurons).Where(c => c.Consistency == Consistency.ItemSpecific).Take(10))
            CommandOutput.AddRow(specific, c.Component.Name, string.Join(", ", c.StrongIn.Take(8).Select(s => $"#{s.Item} ({P(s.Share)})")) + (c.StrongIn.Count > 8 ? $" … {c.StrongIn.Count} in all" : ""));
        output.Write(specific);
        var items = CommandOutput.NewTable("#", "prompt", "target vs foil", "difference", "counterfactual", "Spearman", "top component", "resample top-k removed",
            "own top-k", "removed");
        foreach (var i in r.Items.Take(20))
            CommandOutput.AddRow(items, CommandOutput.Int(i.Index), CommandOutput.Quote(Shorten(i.Prompt)), $"{CommandOutput.Quote(i.Target)} vs {CommandOutput.Quote(i.Foil)}",
                N(i.LogitDiff), N(i.CounterfactualLogitDiff), N(i.Spearman), i.TopComponent, P(i.ResampleAblationRemoved),
                string.Join(", ", i.OwnTopK.Select(c => c.Name)), P(i.OwnResampleRemoved));
        output.Write(items);
        if (r.Items.Count > 20) output.Text.WriteLine($"({r.Items.Count - 20} more items in --json)");
    }

    private static void WriteComponents(CommandOutput output, string title, IEnumerable<ComponentSummary> rows)
    {
        string Pm(Interval x) => $"{CommandOutput.Number(x.Mean)} ± {CommandOutput.Number(x.HalfWidth95)}";
        var table = CommandOutput.NewTable(title, "effect", "share", "direct", "estimate", "consistency", "strong in");
        foreach (var c in rows)
            CommandOutput.AddRow(table, c.Component.Name, Pm(c.Effect), CommandOutput.Number(c.Share, "P1"), c.DirectAttribution is { } d ? Pm(d) : "", Pm(c.Estimate),
                CommandOutput.Name(c.Consistency), CommandOutput.Int(c.StrongIn.Count));
        output.Write(table);
    }

    private static string Shorten(string prompt) => prompt.Length <= 60 ? prompt : "…" + prompt[^59..];
}

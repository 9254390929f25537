using Pinpoint.Interpretability.Explain;
using Spectre.Console;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint explain --dataset</c>: the JSON shape and the terminal summary of a dataset-level explanation.</summary>
public static class ExplainDatasetView
{
    public sealed record Range(double Mean, double Ci95);
    public sealed record Strong(int Item, double Value, double Share);
    /// <param name="Effect">Logit-difference units: activation patching (heads, MLPs) or its attribution estimate (neurons).</param>
    public sealed record ComponentRow(string Component, Range Effect, double Share, Range? Direct, Range Estimate, string Consistency, Strong[] StrongIn);
    public sealed record Ablation(int K, int Items, double TopKFractionRemoved, double RandomKFractionRemoved, double[] Curve, double[] RandomCurve,
        double MeanItemFraction, double MeanItemRandomFraction);
    public sealed record VerificationInfo(int K, string[] Components, double TopKFractionRemoved, double RandomKFractionRemoved, double[] Curve,
        double[] RandomCurve, Ablation Mean, Ablation Resample);
    /// <param name="Components">The ablated set (top-level fractions are resample ablation's).</param>
    /// <summary>Each item's own top-k (as <c>explain</c> finds it for that prediction alone) ablated in that item.</summary>
    public sealed record OwnVerificationInfo(int K, Ablation Mean, Ablation Resample);

    public sealed record SpearmanInfo(Range ItemMean, double Pooled);
    public sealed record LensRow(string Stage, Range LogitDiff);
    public sealed record ItemRow(int Index, string Source, string Prompt, string Target, string Foil, string Counterfactual, string CounterfactualOrigin,
        double LogitDiff, double CounterfactualLogitDiff, double Spearman, string TopComponent, double MeanAblationRemoved, double ResampleAblationRemoved,
        string[] OwnTopK, double OwnResampleRemoved);

    /// <param name="Verification">The top-k heads and single neurons ablated in every item; top-level fractions are resample ablation's (the counterfactual's own activations), mean ablation beside it.</param>
    /// <param name="Html">Full path of the HTML report, when <c>--html</c> asked for one.</param>
    public sealed record Result(string Dataset, int Items, int Correct, Range LogitDiff, Range Effect, SpearmanInfo Spearman, VerificationInfo Verification,
        OwnVerificationInfo OwnTopK, LensRow[] LogitLens, ComponentRow[] Components, ComponentRow[] Neurons, ItemRow[] ItemResults, string? Html = null);

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

    public static Result ToResult(string dataset, DatasetExplainReport r)
    {
        static Range R(Interval i) => new(i.Mean, i.HalfWidth95);
        static ComponentRow C(ComponentSummary s) => new(s.Component.Name, R(s.Effect), s.Share, s.DirectAttribution is { } d ? R(d) : null, R(s.Estimate),
            CommandOutput.Name(s.Consistency), s.StrongIn.Select(v => new Strong(v.Item, v.Value, v.Share)).ToArray());
        static Ablation A(DatasetVerification v) => new(v.K, v.Items, v.TopKFractionRemoved, v.RandomKFractionRemoved, [.. v.Curve], [.. v.RandomCurve],
            v.MeanItemFraction, v.MeanItemRandomFraction);
        var resample = r.ResampleAblation;
        return new Result(dataset, r.ItemCount, r.Correct, R(r.LogitDiff), R(r.Effect), new SpearmanInfo(R(r.ItemSpearman), r.PooledSpearman),
            new VerificationInfo(resample.K, r.Verified.Select(c => c.Name).ToArray(), resample.TopKFractionRemoved, resample.RandomKFractionRemoved,
                [.. resample.Curve], [.. resample.RandomCurve], A(r.MeanAblation), A(resample)),
            new OwnVerificationInfo(r.OwnResampleAblation.K, A(r.OwnMeanAblation), A(r.OwnResampleAblation)),
            r.LogitLens.Select(l => new LensRow(l.Stage, R(l.LogitDiff))).ToArray(),
            r.Components.Select(C).ToArray(), r.Neurons.Select(C).ToArray(),
            r.Items.Select(i => new ItemRow(i.Index, i.Source, i.Prompt, i.Target, i.Foil, i.Counterfactual, i.CounterfactualOrigin, i.LogitDiff,
                i.CounterfactualLogitDiff, i.Spearman, i.TopComponent, i.MeanAblationRemoved, i.ResampleAblationRemoved,
                i.OwnTopK.Select(c => c.Name).ToArray(), i.OwnResampleRemoved)).ToArray());
    }

    public static void Render(Result r, CommandOutput output)
    {
        string N(double v) => CommandOutput.Number(v);
        string P(double v) => CommandOutput.Number(v, "P1");
        string Pm(Range x) => $"{N(x.Mean)} ± {CommandOutput.Number(x.Ci95, "F3")}";
        string Check(VerificationInfo v) => $"{string.Join(", ", v.Components)}: resample {P(v.Resample.TopKFractionRemoved)} removed (random {v.K}: {P(v.Resample.RandomKFractionRemoved)}); " +
            $"mean {P(v.Mean.TopKFractionRemoved)} (random: {P(v.Mean.RandomKFractionRemoved)})";
        output.WriteProperties([
            ("dataset", r.Dataset),
            ("items", $"{CommandOutput.Int(r.Items)} ({CommandOutput.Int(r.Correct)} where the target wins)"),
            ("logit difference", Pm(r.LogitDiff)),
            ("clean − counterfactual", Pm(r.Effect)),
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
        WriteComponents(output, "heads and MLPs (patching effect, logits)", r.Components.Where(c => c.Consistency != "negligible").Take(15));
        WriteComponents(output, "neurons (attribution estimate, logits)", r.Neurons.Take(10));
        var specific = CommandOutput.NewTable("only in some items", "items where it alone moves ≥ 25% of the effect");
        foreach (var c in r.Components.Concat(r.Neurons).Where(c => c.Consistency == "item_specific").Take(10))
            CommandOutput.AddRow(specific, c.Component, string.Join(", ", c.StrongIn.Take(8).Select(s => $"#{s.Item} ({P(s.Share)})")) + (c.StrongIn.Length > 8 ? $" … {c.StrongIn.Length} in all" : ""));
        output.Write(specific);
        var items = CommandOutput.NewTable("#", "prompt", "target vs foil", "difference", "counterfactual", "Spearman", "top component", "resample top-k removed",
            "own top-k", "removed");
        foreach (var i in r.ItemResults.Take(20))
            CommandOutput.AddRow(items, CommandOutput.Int(i.Index), CommandOutput.Quote(Shorten(i.Prompt)), $"{CommandOutput.Quote(i.Target)} vs {CommandOutput.Quote(i.Foil)}",
                N(i.LogitDiff), N(i.CounterfactualLogitDiff), N(i.Spearman), i.TopComponent, P(i.ResampleAblationRemoved),
                string.Join(", ", i.OwnTopK), P(i.OwnResampleRemoved));
        output.Write(items);
        if (r.ItemResults.Length > 20) output.Text.WriteLine($"({r.ItemResults.Length - 20} more items in --json)");
    }

    private static void WriteComponents(CommandOutput output, string title, IEnumerable<ComponentRow> rows)
    {
        string Pm(Range x) => $"{CommandOutput.Number(x.Mean)} ± {CommandOutput.Number(x.Ci95)}";
        var table = CommandOutput.NewTable(title, "effect", "share", "direct", "estimate", "consistency", "strong in");
        foreach (var c in rows)
            CommandOutput.AddRow(table, c.Component, Pm(c.Effect), CommandOutput.Number(c.Share, "P1"), c.Direct is { } d ? Pm(d) : "", Pm(c.Estimate),
                c.Consistency, CommandOutput.Int(c.StrongIn.Length));
        output.Write(table);
    }

    private static string Shorten(string prompt) => prompt.Length <= 60 ? prompt : "…" + prompt[^59..];
}

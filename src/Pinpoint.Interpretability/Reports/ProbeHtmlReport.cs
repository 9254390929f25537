using Pinpoint.Interpretability.Concepts;

namespace Pinpoint.Interpretability.Reports;

/// <summary>A <see cref="ProbeReport"/> as one self-contained page: held-out score per hook with its interval, baseline and control, and the table.</summary>
public static class ProbeHtmlReport
{
    public static string Render(ProbeReport r) =>
        Html.Document($"pinpoint probe {r.Dataset}", ReportParts.Css, [Summary(r), Chart(r), Table(r)]);

    private static HtmlFragment Summary(ProbeReport r) =>
        Html.Section("summary", "Probe", "Linear probes read at the last token of each text; scores are held out over grouped folds.",
            Html.Properties(
            [
                ("dataset", r.Dataset), ("items", Html.Number(r.Items, "F0")), ("method", r.Method),
                ("classes", r.Classes is null ? "(numeric values)" : string.Join(", ", r.Classes)),
                ("folds / permutations", $"{r.Folds} / {r.Permutations}"),
                ("best hook", r.Best.Hook), ("probe file", r.ProbeFile ?? "(not saved)"),
            ]));

    private static HtmlFragment Chart(ProbeReport r)
    {
        bool classes = r.Classes is not null;
        var main = r.Layers.Select(l => (l.Accuracy ?? l.R2)!.Value).ToList();
        List<LineSeries> series =
        [
            new(classes ? "accuracy" : "R²", main.Select(m => m.Mean).ToList(), ReportParts.Red, HalfWidths: main.Select(m => m.Ci95).ToList()),
            new("baseline", r.Layers.Select(l => l.Baseline).ToList(), ReportParts.Blue, Dashed: true),
        ];
        if (classes) series.Add(new("control task", r.Layers.Select(l => l.ControlAccuracy ?? double.NaN).ToList(), ReportParts.Grey, Dashed: true));
        return Html.Section("layers", "Held-out score per hook", "Mean over folds with its 95% interval (band); the baseline predicts the training folds' majority class (or mean).",
            Svg.Render(new LineChart("probe-layers", classes ? "accuracy" : "R²", classes ? "accuracy" : "R²", r.Layers.Select(l => Short(l.Hook)).ToList(), series)));
    }

    private static HtmlFragment Table(ProbeReport r)
    {
        bool classes = r.Classes is not null;
        var headers = classes
            ? new[] { "hook", "accuracy", "baseline", "control", "selectivity", "p-value" }
            : ["hook", "R²", "Spearman", "baseline R²", "shuffled-target R²", "proximity error", "p-value"];
        HtmlFragment Pm(FoldInterval i) => Html.Element("span", $"{Html.Format(i.Mean)} ± {Html.Format(i.Ci95)}", ("class", "num"));
        var rows = r.Layers.Select(l => (IReadOnlyList<HtmlFragment>)(classes
            ? [l.Hook, Pm(l.Accuracy!.Value), Html.Number(l.Baseline), Html.Number(l.ControlAccuracy!.Value), Html.Number(l.Selectivity!.Value), Html.Number(l.PValue, "G3")]
            : [l.Hook, Pm(l.R2!.Value), Pm(l.Spearman!.Value), Html.Number(l.Baseline), Html.Number(l.ControlR2 ?? double.NaN), Html.Number(l.ProximityError ?? double.NaN), Html.Number(l.PValue, "G3")]));
        return Html.Section("table", "Per hook", "Selectivity = accuracy − control-task accuracy (Hewitt & Liang); p = share of label permutations scoring at least as well.",
            Html.Table("probe scores", headers, rows));
    }

    /// <summary>blocks.3.hook_resid_post → L3 resid_post, for chart labels.</summary>
    public static string Short(string hook) =>
        hook.StartsWith("blocks.", StringComparison.Ordinal) && hook.IndexOf('.', 7) is var dot and > 0
            ? $"L{hook[7..dot]} {hook[(dot + 1)..].Replace("hook_", "")}"
            : hook.Replace("hook_", "");
}

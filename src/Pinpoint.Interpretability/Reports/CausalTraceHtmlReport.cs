using Pinpoint.Interpretability.Editing;

namespace Pinpoint.Interpretability.Reports;

/// <summary>A <see cref="CausalTraceReport"/> as one self-contained HTML page: the run and three layer × position heatmaps of indirect effects.</summary>
public static class CausalTraceHtmlReport
{
    public static string Render(CausalTraceReport report) =>
        Html.Document($"pinpoint trace: {Html.VisibleToken(report.Answer)}", ReportParts.Css, [Summary(report), Heatmaps(report)]);

    public static HtmlFragment Summary(CausalTraceReport r) =>
        Html.Element("h1", "Causal trace of " + Html.Token(r.Answer)) + Html.Properties(
        [
            ("prompt", ReportParts.Prompt(r.Prompt)),
            ("subject tokens", Html.SpaceSeparated(r.Tokens[r.SubjectStart..r.SubjectEnd].Select(t => Html.Token(t)))),
            ("answer", Html.Token(r.Answer, $"id {r.AnswerId}")),
            ("P(answer), clean", Html.Number(r.CleanProbability, "F4")),
            ("P(answer), subject corrupted", Html.Number(r.CorruptedProbability, "F4")),
            ("noise", $"Gaussian, std {Html.Format(r.NoiseStd, "G3")} (3× the embedding's), {r.Samples} samples"),
            ("window", $"{r.Window} layer(s) of MLP or attention outputs restored together"),
        ]);

    public static HtmlFragment Heatmaps(CausalTraceReport r)
    {
        var columns = r.Tokens.Select((t, p) => (p >= r.SubjectStart && p < r.SubjectEnd ? "*" : "") + Html.VisibleToken(t)).ToList();
        var rows = Enumerable.Range(0, r.Residual.Length).Select(l => $"L{l}").ToList();
        var all = r.Residual.Concat(r.Mlp).Concat(r.Attention).SelectMany(x => x);
        var scale = ColourScale.DivergingFor(all);
        HtmlFragment Map(string id, string title, double[][] values) =>
            Svg.Render(new Heatmap(id, title, rows, columns, values, scale, "indirect effect on P(answer)"));
        var maps = new List<HtmlFragment> { Map("residual", "Residual stream after each layer", r.Residual) };
        if (r.Mlp.Length > 0) maps.Add(Map("mlp", $"MLP outputs (window {r.Window})", r.Mlp));
        maps.Add(Map("attention", $"Attention outputs (window {r.Window})", r.Attention));
        return Html.Section("trace", "Indirect effects by layer and position",
            "P(answer) with one clean state restored in the corrupted run, minus P(answer) corrupted; subject tokens are marked *. Red is positive, blue negative.",
            Html.Figures(maps));
    }
}

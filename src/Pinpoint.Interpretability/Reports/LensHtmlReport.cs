using Pinpoint.Interpretability.Lens;

namespace Pinpoint.Interpretability.Reports;

/// <summary>A <see cref="LensReport"/> as one page: KL per stage for both lenses, then the top token per stage and position, logit lens beside tuned lens.</summary>
public static class LensHtmlReport
{
    public static string Render(LensReport r) =>
        Html.Document($"pinpoint lens {r.Prompt}", ReportParts.Css, [Summary(r), Chart(r), Grid(r)]);

    private static HtmlFragment Summary(LensReport r) =>
        Html.Section("summary", "Lens", "What the model would predict if it stopped after each layer: the logit lens reads the residual stream through the final norm and unembedding; the tuned lens first applies a trained affine translator.",
            Html.Properties(
            [
                ("prompt", r.Prompt), ("tokens", Html.Number(r.Tokens.Length, "F0")),
                ("tuned lens", r.TunedLens ?? "(none: pass --tuned DIR)"),
            ]));

    private static HtmlFragment Chart(LensReport r)
    {
        List<LineSeries> series = [new("logit lens", r.Stages.Select(s => s.LogitLensKl).ToList(), ReportParts.Blue)];
        if (r.TunedLens is not null) series.Add(new("tuned lens", r.Stages.Select(s => s.TunedLensKl ?? double.NaN).ToList(), ReportParts.Red));
        return Html.Section("kl", "KL to the final distribution", "Mean over the prompt's positions, in nats; 0 means the lens already says what the model finally says.",
            Svg.Render(new LineChart("lens-kl", "KL (nats)", "KL (nats)", r.Stages.Select(s => s.Stage).ToList(), series)));
    }

    private static HtmlFragment Grid(LensReport r)
    {
        HtmlFragment Cell(LensCell c) => Html.Token(c.Top[0].Token, string.Join(", ", c.Top.Select(t => $"{t.Token} {Html.Format(t.Probability)}")) + $"; KL {Html.Format(c.Kl)}");
        var headers = new[] { "stage", "lens" }.Concat(r.Tokens.Select((t, i) => $"{i}: {t}")).ToArray();
        var rows = new List<IReadOnlyList<HtmlFragment>>();
        foreach (var s in r.Stages)
        {
            rows.Add([s.Stage, "logit", .. s.LogitLens.Select(Cell)]);
            if (s.TunedLens is not null) rows.Add([s.Stage, "tuned", .. s.TunedLens.Select(Cell)]);
        }
        rows.Add(["output", "model", .. r.Output.Select(Cell)]);
        return Html.Section("grid", "Top next token per stage and position", "Hover a token for the top five with probabilities and the KL at that cell.",
            Html.Table("lens top tokens", headers, rows));
    }
}

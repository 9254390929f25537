using Pinpoint.Interpretability.Steering;

namespace Pinpoint.Interpretability.Reports;

/// <summary>A <see cref="SteeringSweepReport"/> as one self-contained HTML page: the vector, effect and cost by coefficient, generations side by side.</summary>
public static class SteeringHtmlReport
{
    public static string Render(SteeringSweepReport report) =>
        Html.Document($"pinpoint steer: {report.Hook}", ReportParts.Css, [Summary(report), Sweep(report), Generations(report)]);

    public static HtmlFragment Summary(SteeringSweepReport r) =>
        Html.Element("h1", "Steering at " + Html.Element("code", r.Hook)) + Html.Properties(
        [
            ("spec", Html.Element("code", r.Spec)),
            ("vector norm", Html.Number(r.VectorNorm)),
            ("positions", r.Positions),
            ("prompt", ReportParts.Prompt(r.Prompt)),
            ("concept tokens", Html.SpaceSeparated(r.ConceptTokens.Select((t, i) => Html.Token(t, $"id {r.ConceptIds[i]}")))),
            ("perplexity on the reference text, unsteered", Html.Number(r.BasePerplexity) + $" ({r.ReferenceTokens} tokens)"),
            ("generations", $"{r.Points[0].GeneratedIds.Length} tokens at most, temperature {Html.Format(r.Sampling.Temperature, "G3")}, top-k {r.Sampling.TopK}, seed {r.Sampling.Seed}"),
        ]);

    public static HtmlFragment Sweep(SteeringSweepReport r)
    {
        var labels = r.Points.Select(p => Html.Format(p.Coefficient, "G4")).ToList();
        return Html.Section("sweep", "Effect and cost by coefficient",
            $"Effect: mean change of the concept tokens' logit and log-probability at the prompt's last position (vs unsteered). Cost: perplexity on the reference text relative to unsteered, and mean KL(unsteered ‖ steered) of the next token over {r.NeutralPrompts} neutral prompts.",
            Html.Figures(
            [
                Svg.Render(new LineChart("effect", "Effect: concept tokens", "change", labels,
                [
                    new LineSeries("log-probability", r.Points.Select(p => p.ConceptLogProbShift).ToList(), ReportParts.Red),
                    new LineSeries("logit", r.Points.Select(p => p.ConceptLogitShift).ToList(), ReportParts.Grey, Dashed: true),
                ])),
                Svg.Render(new LineChart("cost", "Cost: reference perplexity and neutral KL", "cost", labels,
                [
                    new LineSeries("perplexity ÷ unsteered − 1", r.Points.Select(p => p.Perplexity / r.BasePerplexity - 1).ToList(), ReportParts.Blue),
                    new LineSeries("KL on neutral prompts (nats)", r.Points.Select(p => p.NeutralKl).ToList(), ReportParts.Grey, Dashed: true),
                ])),
            ]));
    }

    public static HtmlFragment Generations(SteeringSweepReport r) =>
        Html.Section("generations", "Generations", "The same seed for every coefficient, so the texts differ only by the steering.",
            Html.Table("seeded generations per coefficient", ["coefficient", "continuation", "concept log-prob Δ", "perplexity", "neutral KL"],
                r.Points.Select(p => (IReadOnlyList<HtmlFragment>)
                [
                    Html.Number(p.Coefficient, "G4"), ReportParts.Prompt(r.Prompt) + Html.Element("b", p.Generation),
                    Html.Number(p.ConceptLogProbShift), Html.Number(p.Perplexity), Html.Number(p.NeutralKl, "F4"),
                ])));
}

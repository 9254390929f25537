using Pinpoint.Interpretability.Editing;

namespace Pinpoint.Interpretability.Reports;

/// <summary>An <see cref="EditReport"/> as one self-contained HTML page: the aggregate scores and a per-item table with probabilities before and after.</summary>
public static class EditHtmlReport
{
    /// <param name="covariance">How C was made ("identity", or the corpus and its token count).</param>
    public static string Render(EditReport report, string covariance) =>
        Html.Document($"pinpoint edit: {report.Method}", ReportParts.Css, [Summary(report, covariance), Items(report)]);

    private static HtmlFragment Share(double value) => double.IsNaN(value) ? (HtmlFragment)"none" : ReportParts.Percent(value);

    public static HtmlFragment Summary(EditReport r, string covariance) =>
        Html.Element("h1", $"Edits with {r.Method.ToUpperInvariant()}") + Html.Properties(
        [
            ("method", $"{r.Method}, layer{(r.Layers.Count > 1 ? "s" : "")} {string.Join(", ", r.Layers)}{(r.UpdateWeight is { } λ ? $", λ = {Html.Format(λ, "G6")}" : "")}, C = {covariance}"),
            ("items", Html.Format(r.Items, "F0")),
            ("efficacy score", ReportParts.Percent(r.EfficacyScore)),
            ("efficacy magnitude (mean P(new) − P(true))", Html.Number(r.EfficacyMagnitude)),
            ("paraphrase score", Share(r.ParaphraseScore)),
            ("neighbourhood score", Share(r.NeighborhoodScore)),
            ("score (harmonic mean)", ReportParts.Percent(r.Score)),
            ("fluency (n-gram entropy, bits) before → after", Html.Number(r.FluencyBefore) + " → " + Html.Number(r.FluencyAfter)),
            ("perplexity before → after", Html.Number(r.PerplexityBefore) + " → " + Html.Number(r.PerplexityAfter)
                + $" ({Html.Format(100 * (r.PerplexityAfter / r.PerplexityBefore - 1), "+0.0;-0.0")}%)"),
            ("seconds per edit", Html.Number(r.SecondsPerEdit, "F2")),
        ]);

    public static HtmlFragment Items(EditReport r) =>
        Html.Section("items", "Items",
            "target_true is the unedited model's top next token; efficacy: P(new) > P(true) after the edit; paraphrase: share of paraphrases where the new target wins; neighbourhood: share of other subjects' prompts that keep their own top token.",
            Html.Table($"{r.Items} edits", ["subject", "prompt", "target true", "target new", "P(true) before → after", "P(new) before → after", "efficacy", "paraphrase", "neighbourhood"],
                r.ItemResults.Select(i => (IReadOnlyList<HtmlFragment>)
                [
                    i.Subject, ReportParts.Prompt(i.Prompt), Html.Token(i.TargetTrue), Html.Token(i.TargetNew),
                    Html.Number(i.TrueBefore) + " → " + Html.Number(i.TrueAfter), Html.Number(i.NewBefore) + " → " + Html.Number(i.NewAfter),
                    i.Efficacy ? "yes" : "no", Share(i.Paraphrase), Share(i.Neighborhood),
                ])));
}

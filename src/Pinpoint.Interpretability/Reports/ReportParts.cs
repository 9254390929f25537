using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Reports;

/// <summary>What the single-prediction and the dataset report draw alike: their style sheet, head grids, faithfulness curves, chips and intervals.</summary>
internal static class ReportParts
{
    public const string Red = Palette.Red, Grey = Palette.Grey, Blue = Palette.Blue;

    /// <summary>A layers × heads heatmap, rows L0.., columns H0...</summary>
    public static HtmlFragment HeadHeatmap(string id, string title, double[][] values, ColourScale scale, string valueName) =>
        Svg.Render(new Heatmap(id, title, LayerLabels(values.Length), Enumerable.Range(0, values.Length > 0 ? values[0].Length : 0).Select(h => $"H{h}").ToList(),
            values, scale, valueName));

    public static List<string> LayerLabels(int layers) => Enumerable.Range(0, layers).Select(l => $"L{l}").ToList();

    /// <summary>
    /// Fraction of the difference removed as the ablated set grows one component at a time (in ranking order), against
    /// random sets of the same kinds.
    /// </summary>
    public static HtmlFragment FaithfulnessChart(string id, string title, IReadOnlyList<double> curve, IReadOnlyList<double> randomCurve, IReadOnlyList<Component> ablated) =>
        FaithfulnessChart(id, title, curve, randomCurve, ablated.Select(c => c.Name).ToList());

    /// <summary>The top-k curve against random sets, each step labelled with what it adds (components or SAE features).</summary>
    public static HtmlFragment FaithfulnessChart(string id, string title, IReadOnlyList<double> curve, IReadOnlyList<double> randomCurve, IReadOnlyList<string> ablated)
    {
        var steps = curve.Select((_, i) => i < ablated.Count ? $"+{ablated[i]}" : $"{i + 1}").ToList();
        return Svg.Render(new LineChart(id, title, "fraction of difference removed", steps,
        [
            new LineSeries("top k", curve, Red),
            new LineSeries($"random k (mean of {Verification.RandomDraws})", randomCurve, Grey, Dashed: true),
        ]));
    }

    public static HtmlFragment ScoredChips(IEnumerable<TokenScore> tokens) =>
        Html.SpaceSeparated(tokens.Select(t => Html.Token(t.Token, $"score {Html.Exact(t.Score)}")));

    /// <summary>"mean ± half-width", exact values in the tooltip.</summary>
    public static HtmlFragment PlusMinus(Interval interval) =>
        Html.Element("span", $"{Html.Format(interval.Mean)} ± {Html.Format(interval.HalfWidth95)}", ("class", "num"),
            ("title", $"mean {Html.Exact(interval.Mean)}, 95% CI ± {Html.Exact(interval.HalfWidth95)}"));

    public static HtmlFragment Percent(double value) => Html.Number(value, "P1");

    /// <summary>The answer first: the summary's sentences as a paragraph, its caveats as a list beneath.</summary>
    public static HtmlFragment Answer(ExplainSummary summary) =>
        Html.Element("p", string.Join(" ", summary.Sentences), ("class", "answer"))
        + (summary.Caveats.Count == 0 ? HtmlFragment.Concat([])
            : Html.Element("ul", HtmlFragment.Concat(summary.Caveats.Select(c => Html.Element("li", "Caveat: " + c))), ("class", "caveats")));

    /// <summary>A prompt as wrapped monospace text, every character visible as typed.</summary>
    public static HtmlFragment Prompt(string text) => Html.Element("span", text, ("class", "prompt"));

    // No '<' or '&' here: the page must stay well-formed XML.
    public const string Css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; background: #fff; margin: 24px auto; max-width: 1360px; padding: 0 16px; }
        h1 { font-size: 22px; }
        h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
        .note { color: #555; margin: 4px 0 14px; max-width: 960px; }
        .caption { max-width: 520px; font-size: 13px; color: #444; }
        .figures { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
        .tok { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; background: #f1f1f4; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px; white-space: pre; }
        mark { background: none; }
        mark .tok { background: #fde7c8; border-color: #e8a33d; }
        .prompt { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap; }
        td .prompt { display: inline-block; max-width: 380px; font-size: 12px; }
        .origin { display: block; color: #777; font-size: 11px; }
        table { border-collapse: collapse; font-size: 13px; }
        caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
        th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; vertical-align: top; }
        thead th, .properties th { background: #fafafa; font-weight: 600; }
        .properties th { white-space: nowrap; }
        .num { font-variant-numeric: tabular-nums; white-space: nowrap; }
        thead ~ tbody td > .num { display: block; text-align: right; }
        .consistent { color: #1a7f37; font-weight: 600; }
        .item-specific { color: #9a6700; font-weight: 600; }
        .negligible { color: #777; }
        """ + "\n" + Svg.Css;
}

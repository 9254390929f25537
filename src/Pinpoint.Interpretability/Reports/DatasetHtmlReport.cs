using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Reports;

/// <summary>
/// A <see cref="DatasetExplainReport"/> as one self-contained HTML page, drawn with the same parts as
/// <see cref="ExplainHtmlReport"/>: means with 95% intervals, which components matter in every item and which in some,
/// the causal check across all items, and one row per item.
/// </summary>
public static class DatasetHtmlReport
{
    public const int DefaultComponentRows = 15;

    /// <summary>Items listed per item-specific component; the count of the rest follows.</summary>
    public const int StrongItemsShown = 5;

    /// <param name="dataset">The file the items came from, for the title.</param>
    /// <param name="componentRows">Rows of the heads-and-MLPs and neuron tables.</param>
    public static string Render(DatasetExplainReport report, string dataset, int componentRows = DefaultComponentRows) =>
        Html.Document($"pinpoint explain --dataset {dataset}", ReportParts.Css,
        [
            Summary(report, dataset), LogitLensSection(report), HeadsAndLayers(report), ComponentTables(report, componentRows),
            Faithfulness(report), ItemTable(report),
        ]);

    public static HtmlFragment Summary(DatasetExplainReport r, string dataset)
    {
        HtmlFragment Ablation(DatasetVerification v) =>
            $"top {v.K} remove {Html.Format(v.TopKFractionRemoved, "P1")} of the total difference; random {v.K} (same kinds, mean of {Verification.RandomDraws} draws) " +
            $"remove {Html.Format(v.RandomKFractionRemoved, "P1")}; mean of per-item fractions {Html.Format(v.MeanItemFraction, "P1")} vs {Html.Format(v.MeanItemRandomFraction, "P1")}";
        return Html.Element("h1", "Why target and not foil, across " + Html.Element("code", dataset)) + Html.Properties(
        [
            ("dataset", Html.Element("code", dataset)),
            ("items", $"{r.ItemCount} ({r.Correct} where the target wins)"),
            ("logit difference (target − foil)", ReportParts.PlusMinus(r.LogitDiff)),
            ("clean − counterfactual", ReportParts.PlusMinus(r.Effect)),
            ("attribution vs activation patching", "Spearman per item " + ReportParts.PlusMinus(r.ItemSpearman) + "; on the dataset means " + Html.Number(r.PooledSpearman)),
            ("ablated together in every item", Html.SpaceSeparated(r.Verified.Select(c => Html.Element("code", c.Name)))),
            ("mean ablation", Ablation(r.MeanAblation)),
            ("resample ablation", Ablation(r.ResampleAblation)),
            ("fractions", $"of the clean difference summed over the {r.ResampleAblation.Items} items where the target wins"),
            ("each item's own top k, mean ablation", Ablation(r.OwnMeanAblation)),
            ("each item's own top k, resample ablation", Ablation(r.OwnResampleAblation)),
        ]);
    }

    public static HtmlFragment LogitLensSection(DatasetExplainReport r) =>
        Html.Section("logit-lens", "Logit lens",
            "Mean target − foil logit difference over the items, read from the residual stream at the last position after each layer; the band is the 95% confidence interval of the mean.",
            Svg.Render(new LineChart("logit-lens", "Logit lens: mean target − foil by layer", "logit difference", r.LogitLens.Select(p => p.Stage).ToList(),
                [new LineSeries("target − foil", r.LogitLens.Select(p => p.LogitDiff.Mean).ToList(), ReportParts.Red, HalfWidths: r.LogitLens.Select(p => p.LogitDiff.HalfWidth95).ToList())])));

    public static HtmlFragment HeadsAndLayers(DatasetExplainReport r)
    {
        var heads = r.Components.Where(c => c.Component.Kind == ComponentKind.Head).ToList();
        int layers = r.Components.Select(c => c.Component.Layer + 1).DefaultIfEmpty(0).Max(), perLayer = heads.Select(c => c.Component.Index + 1).DefaultIfEmpty(0).Max();
        double[][] Grid(Func<ComponentSummary, double> value)
        {
            var grid = Enumerable.Range(0, layers).Select(_ => Enumerable.Repeat(double.NaN, perLayer).ToArray()).ToArray();
            foreach (var h in heads) grid[h.Component.Layer][h.Component.Index] = value(h);
            return grid;
        }
        var effect = Grid(c => c.Effect.Mean);
        var estimate = Grid(c => c.Estimate.Mean);
        var scale = ColourScale.DivergingFor(effect.Concat(estimate).SelectMany(x => x));
        var figures = new List<HtmlFragment>
        {
            ReportParts.HeadHeatmap("heads-effect", "Heads, mean patching effect (logits)", effect, scale, "mean effect"),
            ReportParts.HeadHeatmap("heads-estimate", "Heads, mean attribution estimate (logits)", estimate, scale, "mean estimate"),
        };
        var mlps = r.Components.Where(c => c.Component.Kind == ComponentKind.Mlp).OrderBy(c => c.Component.Layer).ToList();
        if (mlps.Count > 0)
        {
            double[][] mlpRows = [mlps.Select(c => c.Effect.Mean).ToArray(), mlps.Select(c => c.Estimate.Mean).ToArray()];
            figures.Add(Svg.Render(new Heatmap("mlp-effect", "MLPs (logits)", ["mean effect", "mean estimate"], mlps.Select(c => $"L{c.Component.Layer}").ToList(),
                mlpRows, ColourScale.DivergingFor(mlpRows.SelectMany(x => x)), "logits")));
        }
        return Html.Section("heads", "Heads and layers",
            "Mean over the items of what patching one head's or MLP's clean output into the counterfactual run restores, in logits, beside the " +
            "attribution-patching estimate of the same.",
            Html.Figures(figures));
    }

    public static HtmlFragment ComponentTables(DatasetExplainReport r, int rows = DefaultComponentRows)
    {
        var shown = r.Components.Where(c => c.Consistency != Consistency.Negligible).Take(rows).ToList();
        return Html.Section("components", "Components across the dataset",
            $"Mean ± 95% CI over the items, in logits. Consistent: the interval excludes 0 and the mean is at least {Html.Format(DatasetExplainer.ConsistentShare, "P0")} of the mean effect. " +
            $"Item-specific: alone moves at least {Html.Format(DatasetExplainer.StrongShare, "P0")} of the effect in the items listed (hover for the whole prompt). " +
            $"Negligible heads and MLPs are left out ({r.Components.Count - shown.Count} of {r.Components.Count} not shown).",
            Html.Figures(
            [
                ComponentTable("Heads and MLPs (activation patching effect)", shown, r.Items),
                ComponentTable("Neurons (attribution patching estimate)", r.Neurons.Take(rows).ToList(), r.Items),
            ]));
    }

    /// <summary>One row per component; the direct attribution column only where it was measured (not for single neurons).</summary>
    private static HtmlFragment ComponentTable(string caption, IReadOnlyList<ComponentSummary> rows, IReadOnlyList<DatasetItemResult> items)
    {
        bool direct = rows.Any(c => c.DirectAttribution is not null);
        return Html.Table(caption, ["component", "effect", "share", .. direct ? ["direct attribution"] : Array.Empty<string>(), "estimate", "consistency", "strong in"],
            rows.Select(c => (IReadOnlyList<HtmlFragment>)
            [
                Html.Element("code", c.Component.Name), ReportParts.PlusMinus(c.Effect), ReportParts.Percent(c.Share),
                .. direct ? [c.DirectAttribution is { } d ? ReportParts.PlusMinus(d) : ""] : Array.Empty<HtmlFragment>(),
                ReportParts.PlusMinus(c.Estimate),
                Html.Element("span", ConsistencyName(c.Consistency), ("class", ConsistencyName(c.Consistency))),
                StrongItems(c.StrongIn, items),
            ]));
    }

    /// <summary>"#3 42% …end of the prompt" per item, the whole prompt on hover.</summary>
    private static HtmlFragment StrongItems(IReadOnlyList<ItemValue> strong, IReadOnlyList<DatasetItemResult> items) =>
        HtmlFragment.Concat(strong.Take(StrongItemsShown).Select(v => Html.Element("div",
            $"#{v.Item} " + ReportParts.Percent(v.Share) + " " + Html.Element("span", PromptEnd(items[v.Item].Prompt), ("class", "prompt"), ("title", items[v.Item].Prompt)))))
        + (strong.Count > StrongItemsShown ? Html.Element("div", $"… {strong.Count} items in all", ("class", "note")) : default);

    public static HtmlFragment Faithfulness(DatasetExplainReport r)
    {
        HtmlFragment Chart(string id, DatasetVerification v, string title, IReadOnlyList<Component> ablated) =>
            ReportParts.FaithfulnessChart(id, title, v.Curve, v.RandomCurve, ablated);
        return Html.Section("faithfulness", "Faithfulness: ablating the top k",
            $"Fraction of the clean difference removed, summed over the {r.ResampleAblation.Items} items where the target wins, as the top k components " +
            "are ablated together, against random sets of the same kinds: the same set in every item, then each item's own set (as explaining that " +
            "prediction alone finds it). Mean ablation replaces outputs by their mean over reference prompts; resample ablation by each item's counterfactual run.",
            Html.Figures([
                Chart("faithfulness-mean", r.MeanAblation, "Same set, mean ablation", r.Verified),
                Chart("faithfulness-resample", r.ResampleAblation, "Same set, resample ablation", r.Verified),
                Chart("faithfulness-own-mean", r.OwnMeanAblation, "Each item's own set, mean ablation", []),
                Chart("faithfulness-own-resample", r.OwnResampleAblation, "Each item's own set, resample ablation", []),
            ]));
    }

    public static HtmlFragment ItemTable(DatasetExplainReport r) =>
        Html.Section("items", "Items",
            "Each item on its own: its logit differences, its counterfactual and where it came from, how well attribution patching ranks its components " +
            "(Spearman vs activation patching), the component whose patching restores most, the share of its difference the common top k remove, " +
            "and its own top k with the share resample-ablating them removes.",
            Html.Table("Per item", ["#", "prompt", "target vs foil", "difference", "counterfactual", "counterfactual difference", "Spearman", "top component",
                    "mean ablation removes", "resample removes", "own top k", "own top k resample removes"],
                r.Items.Select(i => (IReadOnlyList<HtmlFragment>)
                [
                    Html.Format(i.Index, "F0"),
                    Html.Element("span", i.Prompt, ("class", "prompt"), ("title", i.Source)),
                    Html.Token(i.Target) + " vs " + Html.Token(i.Foil),
                    Html.Number(i.LogitDiff),
                    ReportParts.Prompt(i.Counterfactual) + Html.Element("span", i.CounterfactualOrigin, ("class", "origin")),
                    Html.Number(i.CounterfactualLogitDiff),
                    Html.Number(i.Spearman, "F2"),
                    Html.Element("code", i.TopComponent),
                    ReportParts.Percent(i.MeanAblationRemoved),
                    ReportParts.Percent(i.ResampleAblationRemoved),
                    Html.SpaceSeparated(i.OwnTopK.Select(c => Html.Element("code", c.Name))),
                    ReportParts.Percent(i.OwnResampleRemoved),
                ])));

    private static string ConsistencyName(Consistency c) => c switch
    {
        Consistency.Consistent => "consistent",
        Consistency.ItemSpecific => "item-specific",
        _ => "negligible",
    };

    /// <summary>The end of a prompt, where the prediction is made.</summary>
    private static string PromptEnd(string prompt) => prompt.Length <= 40 ? prompt : "…" + prompt[^39..];
}

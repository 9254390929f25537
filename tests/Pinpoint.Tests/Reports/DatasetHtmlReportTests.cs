using System.Xml.Linq;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Reports;

namespace Pinpoint.Tests.Reports;

/// <summary>The dataset HTML report of <see cref="NastyTokenReport.Items"/>: well-formed, self-contained, escaped, one cell or row per value.</summary>
public class DatasetHtmlReportTests
{
    private const string DatasetName = "nasty <items>.jsonl";
    private static readonly DatasetExplainReport Report = WithAnItemSpecificHead(NastyTokenReport.DatasetReport);
    private static readonly string Page = DatasetHtmlReport.Render(Report, DatasetName);
    private static readonly XDocument Document = ExplainHtmlReportTests.Parse(Page);

    [Fact]
    public void PageIsWellFormedAndFetchesNothing() => ExplainHtmlReportTests.AssertSelfContained(Page, Document);

    [Fact]
    public void PromptsAndTheDatasetNameAreEscapedAndVisible()
    {
        Assert.DoesNotContain("<script>", Page);
        Assert.DoesNotContain("<items>", Page);
        Assert.Equal(DatasetName, Document.Descendants("tr").First(tr => tr.Element("th")?.Value == "dataset").Element("td")!.Value);
        // Parsing undoes the escaping: what is left is the prompt, with the control character and the lone surrogate made visible.
        var prompts = ItemRows().Select(cells => cells[1].Value);
        Assert.Equal(NastyTokenReport.Items.Select(i => Visible(i.Prompt)), prompts);
    }

    [Fact]
    public void ItemTableHasOneRowPerItem()
    {
        var rows = ItemRows();
        Assert.Equal(Report.ItemCount, rows.Count);
        Assert.Equal(Report.Items.Select(i => $"{i.Index}"), rows.Select(cells => cells[0].Value));
        Assert.Equal(Report.Items.Select(i => i.TopComponent), rows.Select(cells => cells[7].Value));
        Assert.Equal(Report.Items.Select(i => Html.Exact(i.ResampleAblationRemoved)), rows.Select(cells => cells[9].Element("span")!.Attribute("title")!.Value));
        Assert.All(rows.Zip(Report.Items), x => Assert.EndsWith(x.Second.CounterfactualOrigin, x.First[4].Value));
    }

    [Fact]
    public void HeadHeatmapsHaveOneCellPerLayerAndHead()
    {
        var heads = Report.Components.Where(c => c.Component.Kind == ComponentKind.Head)
            .OrderBy(c => c.Component.Layer).ThenBy(c => c.Component.Index).ToList();
        Assert.Equal(NastyTokenReport.Layers * NastyTokenReport.Heads, heads.Count);
        foreach (var (id, value) in new (string, Func<ComponentSummary, double>)[] { ("heads-effect", c => c.Effect.Mean), ("heads-estimate", c => c.Estimate.Mean) })
            Assert.Equal(heads.Select(h => Html.Exact(value(h))),
                ExplainHtmlReportTests.Cells(Document, id).Select(c => c.Element("title")!.Value.Split(' ')[^1]));
        Assert.Equal(NastyTokenReport.Layers * 2, ExplainHtmlReportTests.Cells(Document, "mlp-effect").Count);
    }

    [Fact]
    public void LogitLensHasAPointAndABandPerStage()
    {
        var chart = ExplainHtmlReportTests.Chart(Document, "logit-lens");
        var points = chart.Elements("circle").Select(c => c.Element("title")!.Value).ToList();
        Assert.Equal(Report.LogitLens.Select(l => $"target − foil, {l.Stage}: {Html.Exact(l.LogitDiff.Mean)} ± {Html.Exact(l.LogitDiff.HalfWidth95)} (95% CI)"), points);
        var band = chart.Elements("polygon").Single().Attribute("points")!.Value.Split(' ');
        Assert.Equal(2 * Report.LogitLens.Count, band.Length);
    }

    [Fact]
    public void FaithfulnessCurvesHaveAPointPerStep()
    {
        Assert.Equal(2 * Report.MeanAblation.K, ExplainHtmlReportTests.Chart(Document, "faithfulness-mean").Elements("circle").Count());
        Assert.Equal(2 * Report.ResampleAblation.K, ExplainHtmlReportTests.Chart(Document, "faithfulness-resample").Elements("circle").Count());
    }

    [Fact]
    public void ComponentTablesListTheItemsWhereAComponentIsStrong()
    {
        var rows = Table("Heads and MLPs (activation patching effect)").Concat(Table("Neurons (attribution patching estimate)"))
            .ToDictionary(cells => cells[0].Value);
        int shownRows = DatasetHtmlReport.DefaultComponentRows;
        var shown = Report.Components.Where(c => c.Consistency != Consistency.Negligible).Take(shownRows).Concat(Report.Neurons.Take(shownRows)).ToList();
        Assert.Equal(shown.Select(c => c.Component.Name).Order(), rows.Keys.Order());
        Assert.Contains(shown, c => c.Consistency == Consistency.ItemSpecific);
        // Single neurons have no direct attribution of their own in the dataset report: no empty column for it.
        Assert.Equal(7, Table("Heads and MLPs (activation patching effect)")[0].Count);
        Assert.Equal(6, Table("Neurons (attribution patching estimate)")[0].Count);
        // The whole prompt is in a tooltip (an attribute), where an XML parser reads a newline as a space; HTML keeps it.
        foreach (var c in shown)
        {
            var cells = rows[c.Component.Name];
            Assert.Equal(c.Consistency == Consistency.ItemSpecific ? "item-specific" : c.Consistency == Consistency.Consistent ? "consistent" : "negligible", cells[^2].Value);
            var strong = cells[^1].Elements("div").Where(d => d.Attribute("class") is null).ToList();
            Assert.Equal(c.StrongIn.Take(DatasetHtmlReport.StrongItemsShown).Select(v => $"#{v.Item} "), strong.Select(d => d.Value[..(d.Value.IndexOf(' ') + 1)]));
            Assert.Equal(c.StrongIn.Take(DatasetHtmlReport.StrongItemsShown).Select(v => Visible(Report.Items[v.Item].Prompt).Replace('\n', ' ')),
                strong.Select(d => d.Elements("span").Single(s => (string?)s.Attribute("class") == "prompt").Attribute("title")!.Value));
        }
    }

    /// <summary>
    /// The random model moves no item enough for one component to be strong in it; the last head is marked as the
    /// explainer would mark a head that alone carried most of items 3 and 1.
    /// </summary>
    private static DatasetExplainReport WithAnItemSpecificHead(DatasetExplainReport report)
    {
        var head = report.Components.Last(c => c.Component.Kind == ComponentKind.Head);
        var specific = head with { Consistency = Consistency.ItemSpecific, StrongIn = [new ItemValue(3, 0.4, -0.9), new ItemValue(1, 0.2, 0.5)] };
        return report with { Components = report.Components.Select(c => c == head ? specific : c).ToList() };
    }

    /// <summary>What the page shows of a prompt: the characters HTML cannot hold (here a bell and half a surrogate pair) as \uXXXX.</summary>
    private static string Visible(string prompt) => prompt.Replace("\u0007", "\\u0007").Replace("\uD83D", "\\ud83d");

    private static List<List<XElement>> Table(string caption) =>
        Document.Descendants("table").Single(t => t.Element("caption")?.Value == caption).Element("tbody")!.Elements("tr")
            .Select(tr => tr.Elements("td").ToList()).ToList();

    private static List<List<XElement>> ItemRows() => Table("Per item");
}

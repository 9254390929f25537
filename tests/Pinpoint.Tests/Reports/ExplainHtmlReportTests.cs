using System.Xml;
using System.Xml.Linq;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Reports;

namespace Pinpoint.Tests.Reports;

/// <summary>The HTML report of <see cref="NastyTokenReport"/>: well-formed, self-contained, escaped, one cell per value.</summary>
public class ExplainHtmlReportTests
{
    private static readonly ExplainReport Report = NastyTokenReport.Report;
    private static readonly string Page = ExplainHtmlReport.Render(Report);
    private static readonly XDocument Document = Parse(Page);

    /// <summary>The page is also XML, so a strict parser proves every tag is closed and no raw control character slipped in.</summary>
    public static XDocument Parse(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }

    /// <summary>Nothing in the page can make the browser fetch anything or run anything.</summary>
    internal static void AssertSelfContained(string page, XDocument document)
    {
        Assert.Equal("html", document.Root!.Name.LocalName);
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
        Assert.DoesNotContain("url(", page);
        Assert.DoesNotContain("@import", page);
        Assert.DoesNotContain(document.Descendants(), e => e.Name.LocalName is "script" or "link" or "img" or "iframe" or "object" or "embed");
        Assert.DoesNotContain(document.Descendants().Attributes(), a => a.Name.LocalName is "src" or "href");
    }

    [Fact]
    public void PageIsWellFormedAndFetchesNothing() => AssertSelfContained(Page, Document);

    [Fact]
    public void TokensFromTheModelAreEscapedAndVisible()
    {
        Assert.DoesNotContain("<script>", Page);
        Assert.Contains("&lt;script&gt;", Page);
        var tokenRow = Document.Descendants("tr").First(tr => tr.Element("th")?.Value == "tokens");
        Assert.Equal(Report.Tokens.Select(Html.VisibleToken), Chips(tokenRow));
        Assert.Equal(["<script>alert('x')</script>", "·&amp;", "·\"q\"", "\\u0007", "\\n", "·lead", "\\ud83d", "x"], Chips(tokenRow));
        // The prompt itself is shown as text too, with the control character and the lone surrogate made visible.
        var prompt = Document.Descendants("tr").First(tr => tr.Element("th")?.Value == "prompt").Element("td")!.Value;
        Assert.Equal("<script>alert('x')</script> &amp; \"q\"\\u0007\n lead\\ud83dx", prompt);
    }

    [Fact]
    public void HeatmapsHaveOneCellPerValueWithItsExactValue()
    {
        int t = Report.Tokens.Length;
        foreach (var (id, values) in new[] { ("residual-denoise", Report.Denoising.ResidualByLayerPosition), ("residual-noise", Report.Noising.ResidualByLayerPosition) })
        {
            var cells = Cells(id);
            Assert.Equal((NastyTokenReport.Layers + 1) * t, cells.Count);
            Assert.Equal(values.SelectMany(row => row).Select(Html.Exact), cells.Select(c => c.Element("title")!.Value.Split(' ')[^1]));
        }
        var columnLabels = Chart("residual-denoise").Elements("text").Where(e => e.Attribute("transform") is not null).Select(e => e.Element("title")!.Value);
        Assert.Equal(Report.Tokens.Select((tok, p) => $"{p} {Html.VisibleToken(tok)}"), columnLabels);

        foreach (var id in new[] { "heads-denoise", "heads-noise", "heads-attribution", "heads-integrated-gradients", "heads-direct" })
            Assert.Equal(NastyTokenReport.Layers * NastyTokenReport.Heads, Cells(id).Count);
        Assert.Equal(Report.IntegratedGradients.Heads.SelectMany(row => row).Select(Html.Exact),
            Cells("heads-integrated-gradients").Select(c => c.Element("title")!.Value.Split(' ')[^1]));
        Assert.Contains($"Spearman {Html.Format(Report.IntegratedGradientsSpearman)}", Chart("heads-integrated-gradients").Element("text")!.Value);
        var direct = Report.DirectAttribution.Where(a => a.Component.Kind == ComponentKind.Head).ToDictionary(a => (a.Component.Layer, a.Component.Index), a => a.Value);
        var directCells = Cells("heads-direct");
        for (int l = 0; l < NastyTokenReport.Layers; l++)
            for (int h = 0; h < NastyTokenReport.Heads; h++)
                Assert.EndsWith(Html.Exact(direct[(l, h)]), directCells[l * NastyTokenReport.Heads + h].Element("title")!.Value);
    }

    [Fact]
    public void AttentionPatternsAreFullGridsWithTheFutureMasked()
    {
        int t = Report.Tokens.Length;
        Assert.NotEmpty(Report.HeadMechanisms);
        foreach (var head in Report.HeadMechanisms)
        {
            var cells = Cells($"attention-{head.Head.Name}");
            Assert.Equal(t * t, cells.Count);
            var masked = cells.Select((c, i) => (c, q: i / t, k: i % t)).Where(x => x.c.Element("title")!.Value.Contains("masked")).ToList();
            Assert.Equal(t * (t - 1) / 2, masked.Count);
            Assert.All(masked, x => Assert.True(x.k > x.q));
            Assert.EndsWith(Html.Exact(head.Pattern[t - 1][0]), cells[(t - 1) * t].Element("title")!.Value);
        }
    }

    [Fact]
    public void LineChartsHaveAPointPerValue()
    {
        Assert.Equal(Report.LogitLens.Count, Chart("logit-lens").Elements("circle").Count());
        Assert.Equal(2 * Report.MeanAblation.K, Chart("faithfulness-mean").Elements("circle").Count());
        Assert.Equal(2 * Report.ResampleAblation.K, Chart("faithfulness-resample").Elements("circle").Count());
    }

    [Fact]
    public void TablesListRankingsAndMechanisms()
    {
        var captions = Document.Descendants("caption").Select(c => c.Value).ToList();
        string Weights(string name, WeightRanking ranking) => $"{name} (Spearman {Html.Format(ranking.Spearman)})";
        Assert.Equal(["Activation patching", "Direct logit attribution", "Neurons, attribution patching", "Neurons, direct logit attribution", "Heads", "Neurons",
            Weights("All weights", Report.WeightAttribution.All), Weights("Inside blocks", Report.WeightAttribution.InBlocks)], captions);
        var patching = Table("Activation patching");
        Assert.Equal(Report.PatchingRanking.Take(ExplainHtmlReport.DefaultRankingRows).Select(a => a.Component.Name),
            patching.Element("tbody")!.Elements("tr").Select(tr => tr.Elements("td").ElementAt(1).Value));
        Assert.Equal(Report.NeuronMechanisms.Count, Table("Neurons").Element("tbody")!.Elements("tr").Count());
    }

    [Fact]
    public void HeadTableShowsEachHeadsOvCircuit()
    {
        var rows = Table("Heads").Element("tbody")!.Elements("tr").Select(tr => tr.Elements("td").ToList()).ToList();
        Assert.Equal(Report.HeadMechanisms.Count, rows.Count);
        foreach (var (head, cells) in Report.HeadMechanisms.Zip(rows))
        {
            Assert.Equal(head.Head.Name, cells[0].Value);
            Assert.Equal([Html.VisibleToken(head.Ov.SourceToken)], Chips(cells[3]));
            Assert.EndsWith($"@{head.Ov.SourcePosition}", cells[3].Value);
            Assert.Equal(head.Ov.Promotes.Select(t => Html.VisibleToken(t.Token)), Chips(cells[4]));
            Assert.Equal(Html.Exact(head.Ov.CopyingScore), cells[5].Element("span")!.Attribute("title")!.Value);
        }
    }

    [Fact]
    public void WeightTablesAndScattersHaveARowAndAPointPerVerifiedVector()
    {
        foreach (var (caption, chart, ranking) in new[] { ("All weights", "weights-all", Report.WeightAttribution.All), ("Inside blocks", "weights-blocks", Report.WeightAttribution.InBlocks) })
        {
            Assert.NotEmpty(ranking.Verified);
            var rows = Document.Descendants("table").Single(t => t.Element("caption")?.Value.StartsWith(caption) == true).Element("tbody")!.Elements("tr")
                .Select(tr => tr.Elements("td").ToList()).ToList();
            Assert.Equal(ranking.Verified.Select(w => w.Vector.Name), rows.Select(r => r[1].Value));
            Assert.Equal(ranking.Verified.Select(w => Html.Exact(w.Actual)), rows.Select(r => r[3].Element("span")!.Attribute("title")!.Value));
            var points = Chart(chart).Elements("circle").Select(c => c.Element("title")!.Value).ToList();
            Assert.Equal(ranking.Verified.Select(w => $"{w.Vector.Name}: estimated Δ diff {Html.Exact(w.Estimate)}, Δ diff when zeroed {Html.Exact(w.Actual)}"), points);
        }
    }

    public static XElement Chart(XDocument document, string id) => document.Descendants("svg").Single(s => (string?)s.Attribute("data-chart") == id);

    private static XElement Chart(string id) => Chart(Document, id);

    public static List<XElement> Cells(XDocument document, string id) =>
        Chart(document, id).Elements("rect").Where(r => (string?)r.Attribute("class") == "cell").ToList();

    private static List<XElement> Cells(string id) => Cells(Document, id);

    private static XElement Table(string caption) => Document.Descendants("table").Single(t => t.Element("caption")?.Value == caption);

    public static IEnumerable<string> Chips(XElement parent) =>
        parent.Descendants("span").Where(s => (string?)s.Attribute("class") == "tok").Select(s => s.Value);
}

using System.Xml.Linq;
using Pinpoint.Training;

namespace Pinpoint.Tests.Training;

public sealed class LossCurveTests
{
    [Fact]
    public void CurveIsAStandaloneSvgWithOneLinePointPerStepAndOneDotPerEvaluation()
    {
        var records = Enumerable.Range(1, 10).Select(step => new MetricsRecord
        {
            Step = step, Tokens = step * 1000, TrainLoss = 5.0 / step, ValLoss = step % 5 == 0 ? 5.5 / step : null,
        }).ToList();
        var svg = XDocument.Parse(LossCurve.Render(records));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var line = Assert.Single(svg.Descendants(ns + "polyline"));
        Assert.Equal(10, line.Attribute("points")!.Value.Split(' ').Length);
        // Two validation dots plus the legend's.
        Assert.Equal(3, svg.Descendants(ns + "circle").Count());
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "10k");
    }
}

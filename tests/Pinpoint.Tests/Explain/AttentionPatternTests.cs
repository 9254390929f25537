using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>The full attention pattern the report carries for each top head (drawn by the HTML report).</summary>
public class AttentionPatternTests
{
    [Fact]
    public void PatternsAreCausalSoftmaxRowsEndingInTheAnswerRow()
    {
        var report = NastyTokenReport.Report;
        int t = report.Tokens.Length;
        Assert.NotEmpty(report.HeadMechanisms);
        foreach (var head in report.HeadMechanisms)
        {
            Assert.Equal(t, head.Pattern.Length);
            for (int q = 0; q < t; q++)
            {
                Assert.Equal(t, head.Pattern[q].Length);
                Assert.Equal(1.0, head.Pattern[q].Sum(), 5);
                for (int k = q + 1; k < t; k++) Assert.Equal(0.0, head.Pattern[q][k]);
            }
            Assert.All(head.AttendsTo, a => Assert.Equal(head.Pattern[t - 1][a.Position], a.Weight));
        }
    }
}

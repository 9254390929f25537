using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Tests.Explain;

public class StatisticsTests
{
    [Fact]
    public void SpearmanOfMonotoneDataIsOne() =>
        Assert.Equal(1.0, Statistics.Spearman([1, 2, 3, 10], [0.1, 5, 6, 7]), 12);

    [Fact]
    public void SpearmanOfReversedDataIsMinusOne() =>
        Assert.Equal(-1.0, Statistics.Spearman([1, 2, 3], [3, 2, 1]), 12);

    [Fact]
    public void TiesGetAverageRanks() => Assert.Equal([1.5, 1.5, 3.0], Statistics.Ranks([4, 4, 9]));

    [Fact]
    public void SpearmanMatchesHandComputedValue()
    {
        // ranks a = [1,2,3,4,5], b = [2,1,4,3,5]: Σd² = 4, ρ = 1 − 6·4 / (5·24) = 0.8.
        Assert.Equal(0.8, Statistics.Spearman([10, 20, 30, 40, 50], [2, 1, 4, 3, 5]), 12);
    }

    [Fact]
    public void IntervalShrinksWithMoreValues()
    {
        var (mean, few) = Statistics.MeanWithInterval([1, 2, 3]);
        var (_, many) = Statistics.MeanWithInterval([1, 2, 3, 1, 2, 3, 1, 2, 3]);
        Assert.Equal(2.0, mean, 12);
        Assert.True(many < few);
    }
}

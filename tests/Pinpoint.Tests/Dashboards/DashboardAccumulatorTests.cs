using Pinpoint.Interpretability.Dashboards;

namespace Pinpoint.Tests.Dashboards;

/// <summary>The accumulator against brute force over a stream of known activations.</summary>
public sealed class DashboardAccumulatorTests
{
    private static readonly DashboardOptions Options = new() { Top = 7, Radius = 3, Intervals = 4, SamplesPerInterval = 3, BinsPerInterval = 2 };

    private sealed record Row(long Source, int Position, int Token, float[] Values);

    /// <summary>Windows of random lengths with activations drawn from a few values (so ties happen), some negative, some large late (so the range doubles mid-stream).</summary>
    private static List<List<Row>> Stream(int windows, int units, int seed)
    {
        var rng = new Random(seed);
        var result = new List<List<Row>>();
        for (int w = 0; w < windows; w++)
        {
            int length = rng.Next(1, 12);
            result.Add(Enumerable.Range(0, length).Select(p => new Row(w, p, rng.Next(100),
                Enumerable.Range(0, units).Select(u => rng.Next(4) == 0 ? -rng.Next(3) / 4f : rng.Next(1, 9) * (w > windows / 2 ? 3.5f : 0.25f) * (u + 1)).ToArray())).ToList());
        }
        return result;
    }

    private static DashboardAccumulator Feed(List<List<Row>> stream, int units, int windowsPerBatch)
    {
        var accumulator = new DashboardAccumulator(units, Options);
        foreach (var chunk in stream.Chunk(windowsPerBatch))
        {
            var rows = chunk.SelectMany(w => w).ToList();
            accumulator.Add(rows.SelectMany(r => r.Values).ToArray(), rows.Count, rows.Select(r => r.Source).ToArray(),
                rows.Select(r => r.Position).ToArray(), rows.Select(r => r.Token).ToArray());
        }
        return accumulator;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void HeapsKeepTheTrueTopNWithTheirContexts(int windowsPerBatch)
    {
        const int units = 3;
        var stream = Stream(60, units, seed: 11);
        var accumulator = Feed(stream, units, windowsPerBatch);
        var all = stream.SelectMany(w => w).ToList();
        for (int u = 0; u < units; u++)
        {
            var dashboard = accumulator.Dashboard(u, []);
            // Brute force: a stable sort by activation, descending (earlier tokens first among ties).
            var expected = all.OrderByDescending(r => r.Values[u]).Take(Options.Top).ToList();
            Assert.Equal(expected.Select(r => (r.Source, r.Position, r.Values[u])), dashboard.Top.Select(c => (c.Source, c.Position, c.Activation)));
            foreach (var context in dashboard.Top)
            {
                var window = stream[(int)context.Source];
                int first = Math.Max(0, context.Position - Options.Radius), last = Math.Min(window.Count, context.Position + Options.Radius + 1);
                Assert.Equal(window.Skip(first).Take(last - first).Select(r => r.Token), context.Tokens);
                Assert.Equal(window.Skip(first).Take(last - first).Select(r => r.Values[u]), context.Activations);
                Assert.Equal(context.Position - first, context.Focus);
            }
            Assert.Equal(expected[0].Values[u], dashboard.MaxActivation);
        }
    }

    [Fact]
    public void HistogramDensityAndIntervalSamplesMatchBruteForce()
    {
        const int units = 3;
        var stream = Stream(80, units, seed: 5);
        var accumulator = Feed(stream, units, windowsPerBatch: 3);
        var all = stream.SelectMany(w => w).ToList();
        for (int u = 0; u < units; u++)
        {
            var d = accumulator.Dashboard(u, []);
            var positive = all.Where(r => r.Values[u] > 0).ToList();
            Assert.Equal((double)positive.Count / all.Count, d.Density, 12);
            Assert.Equal(all.Count - positive.Count, d.Histogram.NonPositive);
            float max = positive.Max(r => r.Values[u]);
            // Doubling from a power of two keeps the range the smallest power of two holding the maximum.
            Assert.Equal(Math.Pow(2, Math.Ceiling(Math.Log2(max))), d.Histogram.Range);
            var bins = new long[Options.Bins];
            foreach (var r in positive) bins[Math.Min(Options.Bins - 1, (int)(r.Values[u] / d.Histogram.Range * Options.Bins))]++;
            Assert.Equal(bins, d.Histogram.Counts);
            for (int k = 0; k < Options.Intervals; k++)
            {
                var interval = d.Intervals[k];
                var members = positive.Where(r => Math.Min(Options.Bins - 1, (int)(r.Values[u] / d.Histogram.Range * Options.Bins)) / Options.BinsPerInterval == k).ToList();
                Assert.Equal(members.Count, interval.Count);
                var expected = members.OrderBy(r => DashboardAccumulator.SampleKey(r.Source, r.Position)).Take(Options.SamplesPerInterval)
                    .Select(r => (r.Source, r.Position)).OrderBy(x => x).ToList();
                Assert.Equal(expected, interval.Contexts.Select(c => (c.Source, c.Position)).OrderBy(x => x).ToList());
                Assert.All(interval.Contexts, c => Assert.InRange(c.Activation, interval.Lower, interval.Upper));
            }
        }
    }

    /// <summary>Memory is fixed by units and options: ten times the tokens give a store of the same shape and about the same size.</summary>
    [Fact]
    public void StoreSizeDoesNotGrowWithTokens()
    {
        const int units = 4;
        int Size(int windows)
        {
            var stream = Stream(windows, units, seed: 2);
            var accumulator = Feed(stream, units, windowsPerBatch: 8);
            var dashboards = Enumerable.Range(0, units).Select(u => accumulator.Dashboard(u, [])).ToList();
            Assert.All(dashboards, d => Assert.Equal(Options.Top, d.Top.Count));
            Assert.All(dashboards, d => Assert.True(d.Intervals.Sum(i => i.Contexts.Count) <= Options.Intervals * Options.SamplesPerInterval));
            return Interpretability.Reports.ReportJson.Serialize(dashboards).Length;
        }
        int small = Size(400), large = Size(4000);
        Assert.InRange(large, small * 0.8, small * 1.2);
    }
}

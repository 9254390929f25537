using Pinpoint.Engine.Threading;

namespace Pinpoint.Tests.Engine;

public class WorkerPoolTests
{
    [Fact]
    public void RunsEveryIndexExactlyOnce()
    {
        var hits = new int[1000];
        WorkerPool.ParallelFor(hits.Length, hits, static (h, i) => Interlocked.Increment(ref h[i]));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void NestedLoopsRunInline()
    {
        var hits = new int[16 * 16];
        WorkerPool.ParallelFor(16, hits, static (h, i) =>
            WorkerPool.ParallelFor(16, (h, i), static (s, j) => Interlocked.Increment(ref s.h[s.i * 16 + j])));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ExceptionsReachTheCaller()
    {
        var ex = Assert.Throws<InvalidOperationException>(() =>
            WorkerPool.ParallelFor(64, 0, static (_, i) => { if (i == 37) throw new InvalidOperationException("item 37"); }));
        Assert.Equal("item 37", ex.Message);
        // The pool still works afterwards.
        var hits = new int[8];
        WorkerPool.ParallelFor(hits.Length, hits, static (h, i) => h[i] = 1);
        Assert.All(hits, h => Assert.Equal(1, h));
    }
}

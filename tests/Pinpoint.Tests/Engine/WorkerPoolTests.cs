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

    [Fact]
    public void ConcurrentCallersEachGetEveryIndex()
    {
        // Loops from several threads at once: one uses the pool, the others run inline; none may lose an index.
        var failures = 0;
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            var hits = new int[7];
            for (int round = 0; round < 2000; round++)
            {
                Array.Clear(hits);
                WorkerPool.ParallelFor(hits.Length, hits, static (h, i) => Interlocked.Increment(ref h[i]));
                if (hits.Any(h => h != 1)) Interlocked.Increment(ref failures);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal(0, failures);
    }

    /// <summary>
    /// Caller A's loop stays open (its items wait for B) while caller B runs a loop whose second item waits until a
    /// thread other than B has run one of B's items. A pool that served one loop at a time would run B inline and
    /// that item would wait out its 10 s timeout; this pool's helper moves to B once A's items are done.
    /// </summary>
    [Fact]
    public void ASecondCallerGetsHelpersWhileAnotherLoopIsOpen()
    {
        if (WorkerPool.Concurrency < 2) Assert.Skip("one core: the pool has no helper threads");
        using var bOpened = new ManualResetEventSlim(false);
        using var bHelped = new ManualResetEventSlim(false);
        using var aStarted = new ManualResetEventSlim(false);
        var a = new Thread(() => WorkerPool.ParallelFor(64, 0, (_, _) =>
        {
            aStarted.Set();
            bOpened.Wait(TimeSpan.FromSeconds(10));
        }));
        a.Start();
        Assert.True(aStarted.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        int caller = Environment.CurrentManagedThreadId;
        var threads = new HashSet<int>();
        bool helpedInTime = true;
        WorkerPool.ParallelFor(64, 0, (_, i) =>
        {
            lock (threads) threads.Add(Environment.CurrentManagedThreadId);
            if (Environment.CurrentManagedThreadId != caller) bHelped.Set();
            bOpened.Set();
            if (i == 1 && !bHelped.Wait(TimeSpan.FromSeconds(10))) helpedInTime = false;
            Thread.SpinWait(20_000);
        });
        a.Join();
        Assert.True(helpedInTime, "no helper joined the second caller's loop");
        Assert.True(threads.Count >= 2, $"the second caller's items ran on {threads.Count} thread(s)");
    }

    /// <summary>
    /// The caller's item waits until a helper has started the other one, which then outlasts the caller's short poll:
    /// the caller blocks and only the helper's signal can wake it. A lost wake-up hangs the loop (caught by the timeout).
    /// </summary>
    [Fact]
    public void ACallerThatBlocksIsWokenByItsLastHelper()
    {
        if (WorkerPool.Concurrency < 2) Assert.Skip("one core: the pool has no helper threads");
        var finished = Task.Factory.StartNew(() =>
        {
            int helped = 0;
            for (int round = 0; round < 5; round++)
            {
                using var helperStarted = new ManualResetEventSlim(false);
                int caller = Environment.CurrentManagedThreadId;
                var ran = new int[2];
                int callerItems = 0;
                WorkerPool.ParallelFor(2, 0, (_, i) =>
                {
                    ran[i]++;
                    if (Environment.CurrentManagedThreadId == caller)
                    {
                        if (++callerItems == 1) helperStarted.Wait(TimeSpan.FromSeconds(10));
                    }
                    else
                    {
                        helperStarted.Set();
                        Thread.Sleep(20);
                        Interlocked.Increment(ref helped);
                    }
                });
                Assert.Equal([1, 1], ran);
            }
            return helped;
        }, TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(finished.Wait(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken), "a caller waiting for its helper was never woken");
        Assert.True(finished.Result > 0, "no helper joined any of the loops");
    }
}

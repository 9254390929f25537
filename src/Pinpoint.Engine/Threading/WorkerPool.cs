using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Pinpoint.Engine.Threading;

/// <summary>
/// A small persistent thread pool for data-parallel kernels. <see cref="ParallelFor{TState}"/> runs
/// <c>body(state, i)</c> for every i in [0, count) across the caller and up to <see cref="Concurrency"/> − 1 helper
/// threads, and returns when all are done. It allocates nothing per call when <c>body</c> is a static lambda: the
/// state travels in a per-thread, per-TState job created once. Several callers (two web requests, two explains) may
/// run loops at once: each works through its own items and the fixed set of helpers is shared between the open
/// loops, so no caller falls back to one thread and the pool never adds threads beyond one per core. A loop started
/// from inside a body runs inline on its caller.
/// </summary>
public static class WorkerPool
{
    private static readonly object StateLock = new();
    private static readonly SemaphoreSlim Start = new(0);
    private static readonly int HelperCount = Math.Max(0, Environment.ProcessorCount - 1);
    /// <summary>Loops with a caller still working on them, in the order they opened; guarded by <see cref="StateLock"/>.</summary>
    private static readonly List<Job> OpenJobs = [];
    private static int s_cursor;

    /// <summary>How long a thread polls before it blocks: a kernel loop is often followed at once by the next one
    /// (one GEMM per layer), and a blocked thread takes tens of microseconds or more to wake.</summary>
    private static readonly long HelperPollTicks = Stopwatch.Frequency / 5_000;
    private static readonly long CallerPollTicks = Stopwatch.Frequency / 10_000;

    [ThreadStatic] private static bool t_insideLoop;

    /// <summary>Threads that take part in a parallel loop, the caller included.</summary>
    public static int Concurrency => HelperCount + 1;

    static WorkerPool()
    {
        for (int i = 0; i < HelperCount; i++)
            new Thread(HelperLoop) { IsBackground = true, Name = $"Pinpoint worker {i}" }.Start();
    }

    /// <summary>
    /// Runs <paramref name="body"/>(<paramref name="state"/>, i) for i in [0, <paramref name="count"/>), in any order
    /// and on any pool thread. The first exception thrown by a body is rethrown here after every started item ends.
    /// Callers size <paramref name="count"/> to the work: a count of 1 runs inline with no synchronisation.
    /// </summary>
    public static void ParallelFor<TState>(int count, TState state, Action<TState, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        // Taken before choosing inline or parallel, so this thread's one-time job is created on its first call
        // whichever way that call runs.
        var job = WorkItem<TState>.ForCurrentThread;
        if (count == 1 || HelperCount == 0 || t_insideLoop)
        {
            for (int i = 0; i < count; i++) body(state, i);
            return;
        }
        try
        {
            job.State = state;
            job.Body = body;
            int helpers = Math.Min(HelperCount, count - 1);
            lock (StateLock)
            {
                job.Open(count);
                OpenJobs.Add(job);
                // Wake only helpers that are not already awake or woken: the others find this loop when their current one ends.
                helpers = Math.Min(helpers, HelperCount - Start.CurrentCount);
            }
            if (helpers > 0) Start.Release(helpers);
            t_insideLoop = true;
            job.RunItems();
            t_insideLoop = false;
            lock (StateLock)
            {
                // Every item is claimed. Helpers that have not joined are not waited for (waking a descheduled thread
                // can take longer than a small kernel); only helpers still running items of this loop count.
                OpenJobs.Remove(job);
                job.CallerFinished = true;
                if (job.Active == 0) job.SignalDone();
            }
            job.WaitDone();
            job.Error?.Throw();
        }
        finally
        {
            t_insideLoop = false;
            job.State = default!;
            job.Body = null;
        }
    }

    private static void HelperLoop()
    {
        t_insideLoop = true;
        while (true)
        {
            WaitForWork();
            // Work on open loops until none has unclaimed items, then sleep again.
            while (TryJoin() is { } job)
            {
                job.RunItems();
                lock (StateLock)
                {
                    if (--job.Active == 0 && job.CallerFinished) job.SignalDone();
                }
            }
        }
    }

    /// <summary>An open loop with unclaimed items, taken round-robin so concurrent callers share the helpers.</summary>
    private static Job? TryJoin()
    {
        lock (StateLock)
        {
            for (int n = 0; n < OpenJobs.Count; n++)
            {
                var job = OpenJobs[(s_cursor + n) % OpenJobs.Count];
                if (!job.HasUnclaimedItems) continue;
                s_cursor = (s_cursor + n + 1) % OpenJobs.Count;
                job.Active++;
                return job;
            }
            return null;
        }
    }

    private static void WaitForWork()
    {
        long deadline = Stopwatch.GetTimestamp() + HelperPollTicks;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (Start.CurrentCount > 0 && Start.Wait(0)) return;
            Thread.SpinWait(32);
        }
        Start.Wait();
    }

    /// <summary>One caller's loop: its items, the helpers inside it, and its first error.</summary>
    private abstract class Job
    {
        private int _next;
        private int _count;
        public int Active;
        public bool CallerFinished;
        public ExceptionDispatchInfo? Error;
        private volatile bool _done;
        private volatile bool _callerBlocked;

        public bool HasUnclaimedItems => Volatile.Read(ref _next) < _count;

        /// <summary>Resets the loop for <paramref name="count"/> items; called under the state lock.</summary>
        public void Open(int count)
        {
            _next = 0;
            _count = count;
            Active = 0;
            CallerFinished = false;
            Error = null;
            _done = false;
            _callerBlocked = false;
        }

        /// <summary>Called under the state lock once the caller has finished its items and no helper is left in the loop.</summary>
        public void SignalDone()
        {
            _done = true;
            // The full fence orders the write of _done before the read of _callerBlocked; WaitDone fences the other way,
            // so at least one side sees the other's write and a blocked caller is always pulsed.
            Interlocked.MemoryBarrier();
            if (!_callerBlocked) return;
            // A monitor, not a ManualResetEventSlim: the slim event allocates its lock object lazily on the first wait
            // that blocks, which for a per-thread job could land in any later call and break the no-allocation guarantee.
            lock (this) Monitor.PulseAll(this);
        }

        /// <summary>
        /// Polls briefly, then blocks: the last helper usually finishes its item within microseconds of the caller,
        /// and a monitor wake-up costs more than that on every small loop.
        /// </summary>
        public void WaitDone()
        {
            if (_done) return;
            long deadline = Stopwatch.GetTimestamp() + CallerPollTicks;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(16);
                if (_done) return;
            }
            lock (this)
            {
                _callerBlocked = true;
                Interlocked.MemoryBarrier();
                while (!_done) Monitor.Wait(this);
            }
        }

        public void RunItems()
        {
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < _count)
            {
                try
                {
                    Run(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, ExceptionDispatchInfo.Capture(e), null);
                    // Claim the remaining items so every thread stops early.
                    Volatile.Write(ref _next, _count);
                }
            }
        }

        protected abstract void Run(int index);
    }

    private sealed class WorkItem<TState> : Job
    {
        [ThreadStatic] private static WorkItem<TState>? t_instance;

        public TState State = default!;
        public Action<TState, int>? Body;

        public static WorkItem<TState> ForCurrentThread => t_instance ??= new WorkItem<TState>();

        protected override void Run(int index) => Body!(State, index);
    }
}

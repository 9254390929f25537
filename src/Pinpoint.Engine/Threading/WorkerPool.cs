using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Pinpoint.Engine.Threading;

/// <summary>
/// A small persistent thread pool for data-parallel kernels. <see cref="ParallelFor{TState}"/> runs
/// <c>body(state, i)</c> for every i in [0, count) across <see cref="Concurrency"/> threads (the caller is one
/// of them) and returns when all are done. It allocates nothing per call when <c>body</c> is a static lambda:
/// the state travels in a per-thread, per-TState holder created once. One parallel loop runs at a time; a loop
/// started while another runs (including from inside a body) executes inline on its caller.
/// </summary>
public static class WorkerPool
{
    private static readonly object Gate = new();
    private static readonly object StateLock = new();
    private static readonly SemaphoreSlim Start = new(0);
    private static readonly ManualResetEventSlim Done = new(false);
    private static readonly int HelperCount = Math.Max(0, Environment.ProcessorCount - 1);

    private static IWorkItem? s_job;
    private static int s_next;
    private static int s_count;
    private static int s_unstarted;
    private static int s_active;
    private static bool s_callerFinished;
    private static ExceptionDispatchInfo? s_error;

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
        // Taken before choosing inline or parallel, so this thread's one-time holder is created on its first call
        // whichever way that call runs: a warm-up call that ran inline (the pool busy with another caller's loop)
        // must not leave the allocation to a later, parallel call.
        var job = WorkItem<TState>.ForCurrentThread;
        if (count == 1 || HelperCount == 0 || t_insideLoop || !Monitor.TryEnter(Gate))
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
                s_job = job;
                s_error = null;
                s_count = count;
                s_next = 0;
                s_unstarted = helpers;
                s_active = 0;
                s_callerFinished = false;
                Done.Reset();
            }
            Start.Release(helpers);
            t_insideLoop = true;
            RunItems(job);
            t_insideLoop = false;
            bool wait;
            lock (StateLock)
            {
                // Every item is claimed. Helpers that have not woken yet are withdrawn rather than waited for (waking
                // a descheduled thread can take longer than a small kernel); only helpers still running items count.
                s_unstarted = 0;
                s_callerFinished = true;
                wait = s_active > 0;
            }
            if (wait) Done.Wait();
            s_error?.Throw();
        }
        finally
        {
            t_insideLoop = false;
            job.State = default!;
            job.Body = null;
            s_job = null;
            Monitor.Exit(Gate);
        }
    }

    private static void HelperLoop()
    {
        t_insideLoop = true;
        while (true)
        {
            WaitForWork();
            IWorkItem job;
            lock (StateLock)
            {
                // A wake-up whose loop already finished (or was withdrawn) finds no open slot and goes back to waiting.
                if (s_unstarted == 0) continue;
                s_unstarted--;
                s_active++;
                job = s_job!;
            }
            RunItems(job);
            lock (StateLock)
            {
                if (--s_active == 0 && s_callerFinished) Done.Set();
            }
        }
    }

    /// <summary>
    /// Kernels often run back to back (one GEMM per layer); waking a blocked thread costs tens of microseconds or
    /// more, so a helper polls for a short while before it blocks.
    /// </summary>
    private static void WaitForWork()
    {
        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5_000;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (Start.CurrentCount > 0 && Start.Wait(0)) return;
            Thread.SpinWait(32);
        }
        Start.Wait();
    }

    private static void RunItems(IWorkItem job)
    {
        int i;
        while ((i = Interlocked.Increment(ref s_next) - 1) < s_count)
        {
            try
            {
                job.Run(i);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null);
                // Claim the remaining items so every thread stops early.
                Volatile.Write(ref s_next, s_count);
            }
        }
    }

    private interface IWorkItem
    {
        void Run(int index);
    }

    private sealed class WorkItem<TState> : IWorkItem
    {
        [ThreadStatic] private static WorkItem<TState>? t_instance;

        public TState State = default!;
        public Action<TState, int>? Body;

        public static WorkItem<TState> ForCurrentThread => t_instance ??= new WorkItem<TState>();

        public void Run(int index) => Body!(State, index);
    }
}

using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Ops;

/// <summary>
/// Splits row-wise (or elementwise) op work across <see cref="WorkerPool"/> when it is large enough to pay for the
/// fork/join. Callers pass rows whose results are independent of each other, so a split changes no result bit;
/// cross-row reductions (weight gradients, loss sums) stay sequential in the caller, in row order. Bodies should be
/// static lambdas: the pool then allocates nothing per call.
/// </summary>
internal static class RowParallel
{
    /// <summary>Elements (rows × width) above which the work is split.</summary>
    public const long Threshold = 1 << 16;

    /// <summary>Elementwise ranges are split at multiples of this, so every element keeps the vector lane type (full vector or tail) it has in one unsplit call.</summary>
    private const int ElementAlignment = 64;

    public static bool IsParallel(int rows, int width) => rows > 1 && (long)rows * width > Threshold && WorkerPool.Concurrency > 1;

    /// <summary>Runs <paramref name="body"/>(state, firstRow, endRow) over ranges that together cover [0, rows).</summary>
    public static void For<TState>(int rows, int width, TState state, Action<TState, int, int> body)
    {
        if (rows <= 0) return;
        if (!IsParallel(rows, width))
        {
            body(state, 0, rows);
            return;
        }
        // A few chunks per thread, so a thread slowed by a busy core hands work to the others; no chunk under the threshold's share.
        long work = (long)rows * width;
        int chunks = (int)Math.Min(rows, Math.Min(4L * WorkerPool.Concurrency, Math.Max(2, work / (Threshold / 4))));
        WorkerPool.ParallelFor(chunks, (State: state, Body: body, Rows: rows, Chunks: chunks), static (s, i) =>
            s.Body(s.State, (int)((long)i * s.Rows / s.Chunks), (int)((long)(i + 1) * s.Rows / s.Chunks)));
    }

    /// <summary>Runs <paramref name="body"/>(state, start, end) over element ranges that together cover [0, length).</summary>
    public static void ForElements<TState>(int length, TState state, Action<TState, int, int> body)
    {
        int blocks = (length + ElementAlignment - 1) / ElementAlignment;
        For(blocks, ElementAlignment, (State: state, Body: body, Length: length), static (s, b0, b1) =>
            s.Body(s.State, b0 * ElementAlignment, Math.Min(s.Length, b1 * ElementAlignment)));
    }
}

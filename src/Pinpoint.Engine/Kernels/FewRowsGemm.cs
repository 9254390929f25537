using System.Runtime.CompilerServices;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// C = A·op(B) + beta·C for a few rows of A (<see cref="MinRows"/> ≤ m ≤ <see cref="MaxRows"/>: a prompt's tokens
/// against a weight matrix). The packed algorithm copies B, widened to f32 where it is bf16/f16, into NC-wide panels
/// of megabytes that each feed a single row panel of A, so at this height it mostly writes and re-reads B. Here B is
/// read once where it lies (f32 used as stored), or through a panel of two vectors' width and one KC slice's depth
/// (32 KB at most; 16-bit B, or B used transposed), and each panel serves every row of A before the next is built.
/// Every element is summed in the packed algorithm's order, so a row's result does not depend on the call's height.
/// </summary>
internal static unsafe class FewRowsGemm
{
    public const int MinRows = 2;
    public const int MaxRows = 16;

    /// <summary>Rows of A per register block: 4 rows × 2 vectors of accumulators fit every path's registers.</summary>
    private const int RowBlock = 4;


    /// <summary>
    /// Vector paths only: their tiles sum with fused multiply-adds as this kernel does, while the scalar tile multiplies
    /// then adds, and a row's bits must not depend on which kernel ran.
    /// </summary>
    public static bool Applies(KernelPath path, int m, bool transposeA, DType bType) =>
        path != KernelPath.Scalar && m >= MinRows && m <= MaxRows && !transposeA && !bType.IsQuantized();

    private struct Job
    {
        public int M, N, K, Lda, Ldb, Ldc, PerTask;
        public float* A, C;
        public void* B;
        public DType BType;
        public bool TransposeB;
        public float Beta;
        public KernelPath Path;
    }

    /// <summary>Callers guarantee <see cref="Applies"/>, k ≥ 1 and valid extents (as <see cref="Gemm"/> validates them).</summary>
    public static void Run(KernelPath path, int m, int n, int k, float* a, int lda, void* b, DType bType, int ldb, bool transposeB,
        float* c, int ldc, float beta, double parallelFlops)
    {
        var job = new Job
        {
            M = m, N = n, K = k, A = a, Lda = lda, B = b, BType = bType, Ldb = ldb, TransposeB = transposeB, C = c, Ldc = ldc,
            Beta = beta, Path = path,
        };
        int width = Width(path), threads = WorkerPool.Concurrency;
        int tasks = threads == 1 || 2.0 * m * n * k < parallelFlops ? 1 : Math.Min(threads * 4, (n + 4 * width - 1) / (4 * width));
        job.PerTask = ((n + tasks - 1) / tasks + width - 1) / width * width;
        tasks = (n + job.PerTask - 1) / job.PerTask;
        WorkerPool.ParallelFor(tasks, job, static (j, t) => RunColumns(j, t * j.PerTask, Math.Min(j.N, (t + 1) * j.PerTask)));
    }

    /// <summary>Columns of a panel: two vectors.</summary>
    private static int Width(KernelPath path) => 2 * path switch
    {
        KernelPath.Avx512 => V512.Count,
        KernelPath.Avx2 => V256.Count,
        KernelPath.Vector128 => V128.Count,
        _ => throw new ArgumentException($"no few-rows kernel for {path}", nameof(path)),
    };

    private static void RunColumns(in Job j, int j0, int j1)
    {
        switch (j.Path)
        {
            case KernelPath.Avx512: RunColumns<V512>(j, j0, j1); break;
            case KernelPath.Avx2: RunColumns<V256>(j, j0, j1); break;
            default: RunColumns<V128>(j, j0, j1); break;
        }
    }

    private static void RunColumns<T>(in Job j, int j0, int j1) where T : struct, ISimd<T>
    {
        int width = 2 * T.Count;
        var buffers = GemmBuffers.Current;
        for (int jb = j0; jb < j1; jb += width)
        {
            int cols = Math.Min(width, j1 - jb);
            // f32 B used as stored is already a panel (rows of consecutive columns); anything else is built one.
            bool inPlace = j.BType == DType.F32 && !j.TransposeB && cols == width;
            // k is cut where the packed algorithm cuts it, each slice summed from zero and added onto C, so every
            // element gets the same bits as there: results do not depend on how many rows a call has.
            for (int p0 = 0; p0 < j.K; p0 += Gemm.Kc)
            {
                int kc = Math.Min(Gemm.Kc, j.K - p0);
                float* panel = buffers.B;
                int ldp = width;
                if (inPlace)
                {
                    panel = (float*)j.B + (long)p0 * j.Ldb + jb;
                    ldp = j.Ldb;
                }
                else
                {
                    BuildPanel(j, p0, kc, jb, cols, width, buffers);
                }
                // Later slices add onto what the earlier ones stored, as the packed algorithm's do.
                float beta = p0 == 0 ? j.Beta : 1f;
                for (int i0 = 0; i0 < j.M; i0 += RowBlock)
                    Block<T>(Math.Min(RowBlock, j.M - i0), kc, j.A + (long)i0 * j.Lda + p0, j.Lda, panel, ldp,
                        j.C + (long)i0 * j.Ldc + jb, j.Ldc, cols, beta, buffers.Tile);
            }
        }
    }

    /// <summary>op(B)[p0..p0+kc, jb..jb+cols) into the thread's B buffer as one zero-padded panel of <paramref name="width"/> columns.</summary>
    private static void BuildPanel(in Job j, int p0, int kc, int jb, int cols, int width, GemmBuffers buffers)
    {
        long offset = j.TransposeB ? (long)jb * j.Ldb + p0 : (long)p0 * j.Ldb + jb;
        if (j.BType == DType.F32) GemmPacking.PackB((float*)j.B + offset, j.Ldb, j.TransposeB, kc, cols, width, buffers.B, vector: true);
        else GemmPacking.PackB16((ushort*)j.B + offset, j.BType, j.Ldb, j.TransposeB, kc, cols, width, buffers.B, buffers.Scratch, vector: true);
    }

    /// <summary>
    /// Up to four rows of C over one panel: rows[r]·panel for r &lt; <paramref name="rows"/>, stored as
    /// acc + beta·C (C not read when beta is 0, so it may hold NaN). Missing rows repeat the first and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T>(int rows, int kc, float* a, int lda, float* panel, int ldp, float* c, int ldc, int cols, float beta, float* tile)
        where T : struct, ISimd<T>
    {
        int n = T.Count;
        float* a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a, a3 = rows > 3 ? a + 3 * lda : a;
        T c00 = T.Create(0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++)
        {
            var row = new ReadOnlySpan<float>(panel + (long)p * ldp, 2 * n);
            T b0 = T.Load(row, 0), b1 = T.Load(row, n);
            T x = T.Create(a0[p]);
            c00 = T.Fma(x, b0, c00);
            c01 = T.Fma(x, b1, c01);
            x = T.Create(a1[p]);
            c10 = T.Fma(x, b0, c10);
            c11 = T.Fma(x, b1, c11);
            x = T.Create(a2[p]);
            c20 = T.Fma(x, b0, c20);
            c21 = T.Fma(x, b1, c21);
            x = T.Create(a3[p]);
            c30 = T.Fma(x, b0, c30);
            c31 = T.Fma(x, b1, c31);
        }
        StoreRow(c, c00, c01, cols, beta, tile);
        if (rows > 1) StoreRow(c + ldc, c10, c11, cols, beta, tile);
        if (rows > 2) StoreRow(c + 2 * ldc, c20, c21, cols, beta, tile);
        if (rows > 3) StoreRow(c + 3 * ldc, c30, c31, cols, beta, tile);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T>(float* c, T lo, T hi, int cols, float beta, float* tile) where T : struct, ISimd<T>
    {
        int n = T.Count;
        if (cols == 2 * n)
        {
            var row = new Span<float>(c, 2 * n);
            if (beta != 0f)
            {
                var vb = T.Create(beta);
                lo = T.Fma(T.Load(row, 0), vb, lo);
                hi = T.Fma(T.Load(row, n), vb, hi);
            }
            T.Store(lo, row, 0);
            T.Store(hi, row, n);
            return;
        }
        // A last, narrower block of columns: only its own columns are written.
        var sums = new Span<float>(tile, 2 * n);
        T.Store(lo, sums, 0);
        T.Store(hi, sums, n);
        for (int j = 0; j < cols; j++) c[j] = beta == 0f ? sums[j] : MathF.FusedMultiplyAdd(c[j], beta, sums[j]);
    }
}

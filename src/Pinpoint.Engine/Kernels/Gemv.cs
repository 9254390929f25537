using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// y = beta·y + x·op(B) for a single row x (the m == 1 case of <see cref="Gemm"/>), which is bound by reading B
/// once: non-transposed B (k×n) streams four rows at a time with FMA into a block of y kept in L1;
/// transposed B (n×k) takes four dot products at a time. Threads split the outputs.
/// Rows of B met by a zero in x are skipped, as reference BLAS does, so a one-hot x (the gradient of a single
/// logit) reads one row of the unembedding instead of all of it; a NaN or infinity in a skipped row is not propagated.
/// </summary>
internal static unsafe class Gemv
{
    /// <summary>Width of the y block updated per pass over B's rows (fits L1 with the four B row segments).</summary>
    private const int BlockColumns = 1024;

    private struct Job
    {
        public KernelPath Path;
        public int N, K, Ldb, PerTask;
        public float* X, Y;
        public void* B;
        public DType BType;
        public bool TransposeB;
        public float Beta;
    }

    public static void Run(KernelPath path, int n, int k, float* x, void* b, DType bType, int ldb, bool transposeB, float* y, float beta)
    {
        var job = new Job { Path = path, N = n, K = k, X = x, B = b, BType = bType, Ldb = ldb, TransposeB = transposeB, Y = y, Beta = beta };
        int threads = Threading.WorkerPool.Concurrency;
        long work = (long)n * k;
        // Below ~256K multiply-adds waking a second thread costs more than it saves.
        int tasks = work < (1 << 18) || threads == 1 ? 1 : Math.Min(threads * 4, (n + 63) / 64);
        job.PerTask = (n + tasks - 1) / tasks + 63 & ~63;
        tasks = (n + job.PerTask - 1) / job.PerTask;
        Threading.WorkerPool.ParallelFor(tasks, job, static (j, t) => RunRange(j, t * j.PerTask, Math.Min(j.N, (t + 1) * j.PerTask)));
    }

    private static void RunRange(in Job j, int j0, int j1)
    {
        if (j.TransposeB) RunTransposed(j, j0, j1);
        else RunRows(j, j0, j1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRows(in Job j, int j0, int j1)
    {
        float* scratch = j.BType == DType.F32 ? null : GemmBuffers.Current.Scratch;
        for (int jb = j0; jb < j1; jb += BlockColumns)
        {
            int w = Math.Min(BlockColumns, j1 - jb);
            var y = new Span<float>(j.Y + jb, w);
            if (j.Beta == 0f) y.Clear();
            else if (j.Beta != 1f) TensorPrimitives.Multiply(y, j.Beta, y);
            int p = 0;
            if (j.BType == DType.F32)
            {
                float* b = (float*)j.B + jb;
                for (; p + 4 <= j.K; p += 4)
                {
                    if (j.X[p] == 0f && j.X[p + 1] == 0f && j.X[p + 2] == 0f && j.X[p + 3] == 0f) continue;
                    Axpy4(j.Path, j.X + p, b + p * j.Ldb, j.Ldb, j.Y + jb, w);
                }
                for (; p < j.K; p++)
                    if (j.X[p] != 0f) Axpy(j.Path, j.X[p], b + p * j.Ldb, j.Y + jb, w);
            }
            else
            {
                ushort* b = (ushort*)j.B + jb;
                for (; p < j.K; p++)
                {
                    if (j.X[p] == 0f) continue;
                    GemmPacking.Widen(b + p * j.Ldb, j.BType, scratch, w);
                    Axpy(j.Path, j.X[p], scratch, j.Y + jb, w);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunTransposed(in Job j, int j0, int j1)
    {
        if (j.BType != DType.F32)
        {
            float* scratch = GemmBuffers.Current.Scratch;
            for (int r = j0; r < j1; r++)
            {
                ushort* row = (ushort*)j.B + (long)r * j.Ldb;
                float sum = 0f;
                for (int p0 = 0; p0 < j.K; p0 += Gemm.ScratchSize)
                {
                    int len = Math.Min(Gemm.ScratchSize, j.K - p0);
                    GemmPacking.Widen(row + p0, j.BType, scratch, len);
                    sum += Dot(j.Path, j.X + p0, scratch, len);
                }
                Store(j, r, sum);
            }
            return;
        }
        float* b = (float*)j.B;
        int i = j0;
        if (j.Path == KernelPath.Avx512)
        {
            for (; i + 4 <= j1; i += 4)
            {
                float* r0 = b + (long)i * j.Ldb, r1 = r0 + j.Ldb, r2 = r1 + j.Ldb, r3 = r2 + j.Ldb;
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                int p = 0;
                for (; p + 16 <= j.K; p += 16)
                {
                    var xv = Avx512F.LoadVector512(j.X + p);
                    s0 = Avx512F.FusedMultiplyAdd(xv, Avx512F.LoadVector512(r0 + p), s0);
                    s1 = Avx512F.FusedMultiplyAdd(xv, Avx512F.LoadVector512(r1 + p), s1);
                    s2 = Avx512F.FusedMultiplyAdd(xv, Avx512F.LoadVector512(r2 + p), s2);
                    s3 = Avx512F.FusedMultiplyAdd(xv, Avx512F.LoadVector512(r3 + p), s3);
                }
                float t0 = Vector512.Sum(s0), t1 = Vector512.Sum(s1), t2 = Vector512.Sum(s2), t3 = Vector512.Sum(s3);
                for (; p < j.K; p++)
                {
                    float xp = j.X[p];
                    t0 += xp * r0[p]; t1 += xp * r1[p]; t2 += xp * r2[p]; t3 += xp * r3[p];
                }
                Store(j, i, t0); Store(j, i + 1, t1); Store(j, i + 2, t2); Store(j, i + 3, t3);
            }
        }
        for (; i < j1; i++) Store(j, i, Dot(j.Path, j.X, b + (long)i * j.Ldb, j.K));
    }

    private static void Store(in Job j, int index, float sum) =>
        j.Y[index] = j.Beta == 0f ? sum : sum + j.Beta * j.Y[index];

    /// <summary>y[0..w) += x0·b0 + x1·b1 + x2·b2 + x3·b3 for four consecutive rows of B (stride ldb).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy4(KernelPath path, float* x, float* b, int ldb, float* y, int w)
    {
        float* b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        int j = 0;
        if (path == KernelPath.Avx512)
        {
            Vector512<float> x0 = Vector512.Create(x[0]), x1 = Vector512.Create(x[1]), x2 = Vector512.Create(x[2]), x3 = Vector512.Create(x[3]);
            for (; j + 16 <= w; j += 16)
            {
                var acc = Avx512F.FusedMultiplyAdd(x0, Avx512F.LoadVector512(b + j), Avx512F.LoadVector512(y + j));
                var acc2 = Avx512F.Multiply(x1, Avx512F.LoadVector512(b1 + j));
                acc = Avx512F.FusedMultiplyAdd(x2, Avx512F.LoadVector512(b2 + j), acc);
                acc2 = Avx512F.FusedMultiplyAdd(x3, Avx512F.LoadVector512(b3 + j), acc2);
                Avx512F.Store(y + j, Avx512F.Add(acc, acc2));
            }
        }
        else if (path == KernelPath.Avx2)
        {
            Vector256<float> x0 = Vector256.Create(x[0]), x1 = Vector256.Create(x[1]), x2 = Vector256.Create(x[2]), x3 = Vector256.Create(x[3]);
            for (; j + 8 <= w; j += 8)
            {
                var acc = Fma.MultiplyAdd(x0, Avx.LoadVector256(b + j), Avx.LoadVector256(y + j));
                var acc2 = Avx.Multiply(x1, Avx.LoadVector256(b1 + j));
                acc = Fma.MultiplyAdd(x2, Avx.LoadVector256(b2 + j), acc);
                acc2 = Fma.MultiplyAdd(x3, Avx.LoadVector256(b3 + j), acc2);
                Avx.Store(y + j, Avx.Add(acc, acc2));
            }
        }
        else if (path == KernelPath.Vector128)
        {
            Vector128<float> x0 = Vector128.Create(x[0]), x1 = Vector128.Create(x[1]), x2 = Vector128.Create(x[2]), x3 = Vector128.Create(x[3]);
            for (; j + 4 <= w; j += 4)
            {
                var acc = Vector128.MultiplyAddEstimate(x0, Vector128.Load(b + j), Vector128.Load(y + j));
                var acc2 = x1 * Vector128.Load(b1 + j);
                acc = Vector128.MultiplyAddEstimate(x2, Vector128.Load(b2 + j), acc);
                acc2 = Vector128.MultiplyAddEstimate(x3, Vector128.Load(b3 + j), acc2);
                Vector128.Store(acc + acc2, y + j);
            }
        }
        for (; j < w; j++) y[j] += x[0] * b[j] + x[1] * b1[j] + x[2] * b2[j] + x[3] * b3[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(KernelPath path, float xp, float* b, float* y, int w)
    {
        int j = 0;
        if (path == KernelPath.Avx512)
        {
            var xv = Vector512.Create(xp);
            for (; j + 16 <= w; j += 16)
                Avx512F.Store(y + j, Avx512F.FusedMultiplyAdd(xv, Avx512F.LoadVector512(b + j), Avx512F.LoadVector512(y + j)));
        }
        else if (path == KernelPath.Avx2)
        {
            var xv = Vector256.Create(xp);
            for (; j + 8 <= w; j += 8)
                Avx.Store(y + j, Fma.MultiplyAdd(xv, Avx.LoadVector256(b + j), Avx.LoadVector256(y + j)));
        }
        else if (path == KernelPath.Vector128)
        {
            var xv = Vector128.Create(xp);
            for (; j + 4 <= w; j += 4)
                Vector128.Store(Vector128.MultiplyAddEstimate(xv, Vector128.Load(b + j), Vector128.Load(y + j)), y + j);
        }
        for (; j < w; j++) y[j] += xp * b[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(KernelPath path, float* x, float* b, int k)
    {
        int p = 0;
        float sum = 0f;
        if (path == KernelPath.Avx512)
        {
            Vector512<float> s0 = default, s1 = default;
            for (; p + 32 <= k; p += 32)
            {
                s0 = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(x + p), Avx512F.LoadVector512(b + p), s0);
                s1 = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(x + p + 16), Avx512F.LoadVector512(b + p + 16), s1);
            }
            sum = Vector512.Sum(Avx512F.Add(s0, s1));
        }
        else if (path == KernelPath.Avx2)
        {
            Vector256<float> s0 = default, s1 = default;
            for (; p + 16 <= k; p += 16)
            {
                s0 = Fma.MultiplyAdd(Avx.LoadVector256(x + p), Avx.LoadVector256(b + p), s0);
                s1 = Fma.MultiplyAdd(Avx.LoadVector256(x + p + 8), Avx.LoadVector256(b + p + 8), s1);
            }
            sum = Vector256.Sum(Avx.Add(s0, s1));
        }
        else if (path == KernelPath.Vector128)
        {
            Vector128<float> s0 = default, s1 = default;
            for (; p + 8 <= k; p += 8)
            {
                s0 = Vector128.MultiplyAddEstimate(Vector128.Load(x + p), Vector128.Load(b + p), s0);
                s1 = Vector128.MultiplyAddEstimate(Vector128.Load(x + p + 4), Vector128.Load(b + p + 4), s1);
            }
            sum = Vector128.Sum(s0 + s1);
        }
        for (; p < k; p++) sum += x[p] * b[p];
        return sum;
    }
}

using System.Runtime.CompilerServices;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Single-precision matrix multiply: C = op(A)·op(B) + beta·C, row-major, with leading dimensions.
/// op(A) is m×k (A stored k×m when transposeA), op(B) is k×n (B stored n×k when transposeB).
/// B may also be bf16/f16 (weights as stored on disk); it is widened to f32 while packing.
/// </summary>
/// <remarks>
/// BLIS-style: for each KC-deep slice, a KC×NC block of op(B) is packed into NR-column panels and an MC×KC
/// block of op(A) into MR-row panels; the micro-kernel then sweeps MR×NR tiles of C, so one B panel stays in
/// L1 while the A block streams from L2. Threads take disjoint column (or row) ranges of C, so they never
/// synchronise inside a product: a small enough op(A) is packed once up front and shared, otherwise every task
/// packs its own operands. m == 1 goes to <see cref="Gemv"/>.
/// </remarks>
public static unsafe class Gemm
{
    // KC: a 32-wide B micro-panel (KC·32 floats = 32 KiB) stays in the 48 KiB L1; MC: the MC×KC A block
    // (240 KiB, a multiple of every MR) sits in L2; NC bounds the packed B block, which streams from L2/L3.
    internal const int Kc = 256;
    internal const int Mc = 240;
    internal const int Nc = 2048;
    /// <summary>Floats in the largest micro-tile of any path (edge tiles are computed into a scratch tile this big).</summary>
    internal const int MaxTile = 16 * 32;
    /// <summary>Floats of per-thread conversion scratch: eight KC-long rows for 16-bit B packing, row chunks for GEMV.</summary>
    internal const int ScratchSize = 8 * Kc;
    internal const int PackedASize = Mc * Kc;
    internal const int PackedBSize = Nc * Kc;
    /// <summary>Largest op(A) (in packed floats) that is packed once and shared by all threads.</summary>
    internal const int SharedPackedASize = 1 << 20;
    private const int L2Floats = 1 << 18;

    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<float> b, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta = 0f)
        => Multiply(m, n, k, a, lda, transposeA, b, ldb, transposeB, c, ldc, beta, KernelPaths.Best);

    /// <summary>As above on a chosen instruction set (tests compare every supported path).</summary>
    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<float> b, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta, KernelPath path)
    {
        Validate(m, n, k, a.Length, lda, transposeA, b.Length, ldb, transposeB, c.Length, ldc, path);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            Run(m, n, k, pa, lda, transposeA, pb, DType.F32, ldb, transposeB, pc, ldc, beta, path);
    }

    /// <summary>C = op(A)·op(B) + beta·C with B held as raw bf16/f16 bits of type <paramref name="bType"/>.</summary>
    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<ushort> b, DType bType, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta = 0f)
        => Multiply(m, n, k, a, lda, transposeA, b, bType, ldb, transposeB, c, ldc, beta, KernelPaths.Best);

    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<ushort> b, DType bType, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta, KernelPath path)
    {
        if (bType is not (DType.F16 or DType.BF16))
            throw new ArgumentException($"a 16-bit B operand must be F16 or BF16, got {bType}", nameof(bType));
        Validate(m, n, k, a.Length, lda, transposeA, b.Length, ldb, transposeB, c.Length, ldc, path);
        fixed (float* pa = a)
        fixed (ushort* pb = b)
        fixed (float* pc = c)
            Run(m, n, k, pa, lda, transposeA, pb, bType, ldb, transposeB, pc, ldc, beta, path);
    }

    /// <summary>
    /// C = op(A)·op(B) + beta·C with B a matrix of quantized rows: <paramref name="b"/> holds blocks of
    /// <paramref name="bType"/>, element (r, p) of the stored matrix at r·<paramref name="ldb"/> + p
    /// (<paramref name="ldb"/> a whole number of blocks). A single row of A against B used transposed (the
    /// nn.Linear layout, decode) takes the integer-dot <see cref="QuantizedGemv"/>; everything else runs the f32
    /// blocked algorithm with B's panels dequantized while packing, so no more than one KC×NC block of B is ever
    /// held as f32.
    /// </summary>
    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<byte> b, DType bType, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta = 0f)
        => Multiply(m, n, k, a, lda, transposeA, b, bType, ldb, transposeB, c, ldc, beta, KernelPaths.Best);

    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<byte> b, DType bType, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta, KernelPath path)
    {
        if (!bType.IsQuantized()) throw new ArgumentException($"a block-quantized B operand must have a quantized type, got {bType}", nameof(bType));
        int block = bType.BlockElements();
        if (ldb % block != 0) throw new ArgumentException($"leading dimension of B ({ldb}) is not a whole number of {bType} blocks of {block}", nameof(ldb));
        Validate(m, n, k, a.Length, lda, transposeA, b.Length / bType.BlockBytes() * (long)block, ldb, transposeB, c.Length, ldc, path);
        if (transposeB && k % block != 0) throw new ArgumentException($"B's rows of {k} values are not a whole number of {bType} blocks of {block}", nameof(k));
        fixed (float* pa = a)
        fixed (byte* pb = b)
        fixed (float* pc = c)
            Run(m, n, k, pa, lda, transposeA, pb, bType, ldb, transposeB, pc, ldc, beta, path);
    }

    /// <summary>
    /// <paramref name="batch"/> independent products C_i = op(A_i)·op(B_i) + beta·C_i, operand i starting at
    /// i·stride in each span (a stride of 0 shares one operand across the batch).
    /// </summary>
    public static void MultiplyBatched(
        int batch, int m, int n, int k,
        ReadOnlySpan<float> a, int strideA, int lda, bool transposeA,
        ReadOnlySpan<float> b, int strideB, int ldb, bool transposeB,
        Span<float> c, int strideC, int ldc, float beta = 0f)
        => MultiplyBatched(batch, m, n, k, a, strideA, lda, transposeA, b, strideB, ldb, transposeB, c, strideC, ldc, beta, KernelPaths.Best);

    public static void MultiplyBatched(
        int batch, int m, int n, int k,
        ReadOnlySpan<float> a, int strideA, int lda, bool transposeA,
        ReadOnlySpan<float> b, int strideB, int ldb, bool transposeB,
        Span<float> c, int strideC, int ldc, float beta, KernelPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (strideA < 0 || strideB < 0 || strideC < 0)
            throw new ArgumentException($"batch strides must be non-negative (A {strideA}, B {strideB}, C {strideC})");
        if (batch == 0) return;
        long last = batch - 1;
        Validate(m, n, k, a.Length - last * strideA, lda, transposeA, b.Length - last * strideB, ldb, transposeB, c.Length - last * strideC, ldc, path);
        if (m > 0 && n > 0 && strideC < (long)(m - 1) * ldc + n && batch > 1)
            throw new ArgumentException($"C batch stride {strideC} makes the {m}×{n} outputs overlap", nameof(strideC));
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var job = new BatchJob
            {
                M = m, N = n, K = k, A = pa, StrideA = strideA, Lda = lda, TransposeA = transposeA,
                B = pb, StrideB = strideB, Ldb = ldb, TransposeB = transposeB, C = pc, StrideC = strideC, Ldc = ldc,
                Beta = beta, Path = path,
            };
            // Large products parallelise internally; small ones (attention heads) run one per thread.
            if (batch == 1 || 2.0 * m * n * k >= ParallelFlops * WorkerPool.Concurrency)
            {
                for (int i = 0; i < batch; i++) RunBatchItem(job, i, parallel: true);
                return;
            }
            WorkerPool.ParallelFor(batch, job, static (j, i) => RunBatchItem(j, i, parallel: false));
        }
    }

    /// <summary>Products smaller than this (in flops) run on one thread.</summary>
    private const double ParallelFlops = 4e6;

    private struct BatchJob
    {
        public int M, N, K, StrideA, Lda, StrideB, Ldb, StrideC, Ldc;
        public float* A, B, C;
        public bool TransposeA, TransposeB;
        public float Beta;
        public KernelPath Path;
    }

    private static void RunBatchItem(in BatchJob j, int i, bool parallel)
    {
        float* a = j.A + (long)i * j.StrideA, b = j.B + (long)i * j.StrideB, c = j.C + (long)i * j.StrideC;
        if (parallel) Run(j.M, j.N, j.K, a, j.Lda, j.TransposeA, b, DType.F32, j.Ldb, j.TransposeB, c, j.Ldc, j.Beta, j.Path);
        else RunSerial(j.M, j.N, j.K, a, j.Lda, j.TransposeA, b, DType.F32, j.Ldb, j.TransposeB, c, j.Ldc, j.Beta, j.Path, null);
    }

    private struct Job
    {
        public int M, N, K, Lda, Ldb, Ldc, RowsPerTask, ColsPerTask, ColTasks;
        public float* A, C, PackedA;
        public void* B;
        public DType BType;
        public bool TransposeA, TransposeB;
        public float Beta;
        public KernelPath Path;
    }

    private static void Run(int m, int n, int k, float* a, int lda, bool transposeA, void* b, DType bType, int ldb, bool transposeB,
        float* c, int ldc, float beta, KernelPath path)
    {
        if (m == 0 || n == 0) return;
        // A single row against quantized B used transposed takes the integer dot products; against B as stored (a
        // gradient through the weights) it goes the packed way below, which dequantizes whole rows of B.
        if (m == 1 && k > 0 && (!transposeA || lda == 1) && (!bType.IsQuantized() || transposeB))
        {
            if (bType.IsQuantized()) QuantizedGemv.Run(path, bType, n, k, a, (byte*)b, bType.ByteCount(ldb), c, beta);
            else Gemv.Run(path, n, k, a, b, bType, ldb, transposeB, c, beta);
            return;
        }
        if (k > 0 && FewRowsGemm.Applies(path, m, transposeA, bType))
        {
            FewRowsGemm.Run(path, m, n, k, a, lda, b, bType, ldb, transposeB, c, ldc, beta, ParallelFlops);
            return;
        }
        int threads = WorkerPool.Concurrency;
        if (threads == 1 || 2.0 * m * n * k < ParallelFlops)
        {
            RunSerial(m, n, k, a, lda, transposeA, b, bType, ldb, transposeB, c, ldc, beta, path, null);
            return;
        }
        int mr = GemmMicroKernels.Mr(path), colUnit = ColumnUnit(path, bType, transposeB);
        var job = new Job
        {
            M = m, N = n, K = k, A = a, Lda = lda, TransposeA = transposeA, B = b, BType = bType, Ldb = ldb,
            TransposeB = transposeB, C = c, Ldc = ldc, Beta = beta, Path = path, RowsPerTask = m, ColsPerTask = n, ColTasks = 1,
        };
        if (n >= m && (long)RoundUp(m, mr) * k <= SharedPackedASize)
        {
            // A is packed once, on this thread (cheaper than another fork/join), and shared read-only; column tasks
            // then only pack their own B, so they can be small enough (a few per thread) for a thread slowed by a
            // busy core to hand work to the other.
            job.PackedA = GemmBuffers.Current.SharedPackedA;
            for (int pc = 0; pc < k; pc += Kc)
            {
                long aOffset = transposeA ? (long)pc * lda : pc;
                GemmPacking.PackA(a + aOffset, lda, transposeA, m, Math.Min(Kc, k - pc), mr, GemmMicroKernels.TailMr(path),
                    job.PackedA + (long)RoundUp(m, mr) * pc, path != KernelPath.Scalar);
            }
            job.ColsPerTask = Math.Min(RoundUp(Math.Max(CeilDiv(n, 4 * threads), 4 * colUnit), colUnit), Nc);
            job.ColTasks = CeilDiv(n, job.ColsPerTask);
            WorkerPool.ParallelFor(job.ColTasks, job, static (j, t) => RunTask(j, t));
            return;
        }
        // Otherwise split the longer side of C; each task packs its own operands.
        if (n >= m) job.ColsPerTask = Math.Min(RoundUp(CeilDiv(n, threads), colUnit), Nc);
        else job.RowsPerTask = Math.Min(RoundUp(CeilDiv(m, threads), mr), 2 * Mc);
        job.ColTasks = CeilDiv(n, job.ColsPerTask);
        WorkerPool.ParallelFor(CeilDiv(m, job.RowsPerTask) * job.ColTasks, job, static (j, t) => RunTask(j, t));
    }

    private static void RunTask(in Job j, int t)
    {
        int i0 = t / j.ColTasks * j.RowsPerTask, j0 = t % j.ColTasks * j.ColsPerTask;
        int rows = Math.Min(j.RowsPerTask, j.M - i0), cols = Math.Min(j.ColsPerTask, j.N - j0);
        float* a = j.A + (j.TransposeA ? i0 : (long)i0 * j.Lda);
        void* b = Advance(j.B, j.BType, j.TransposeB ? (long)j0 * j.Ldb : j0);
        RunSerial(rows, cols, j.K, a, j.Lda, j.TransposeA, b, j.BType, j.Ldb, j.TransposeB, j.C + (long)i0 * j.Ldc + j0, j.Ldc, j.Beta, j.Path, j.PackedA);
    }

    /// <summary>
    /// The blocked algorithm on the calling thread. <paramref name="packedA"/>, when given, holds all of op(A)
    /// already packed: KC slice s at offset RoundUp(m, MR)·s·KC, its panels in row order.
    /// </summary>
    private static void RunSerial(int m, int n, int k, float* a, int lda, bool transposeA, void* b, DType bType, int ldb, bool transposeB,
        float* c, int ldc, float beta, KernelPath path, float* packedA)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            ScaleC(m, n, c, ldc, beta);
            return;
        }
        var buffers = GemmBuffers.Current;
        int mr = GemmMicroKernels.Mr(path), nr = GemmMicroKernels.Nr(path);
        // A prepacked slice that fits in L2 is swept whole, so each B panel is fetched once per slice, not once per MC block.
        int mcBlock = packedA != null && (long)RoundUp(m, mr) * Kc <= L2Floats ? m : Mc;
        for (int jc = 0; jc < n; jc += Nc)
        {
            int nc = Math.Min(Nc, n - jc);
            for (int pc = 0; pc < k; pc += Kc)
            {
                int kc = Math.Min(Kc, k - pc);
                float sliceBeta = pc == 0 ? beta : 1f;
                long bOffset = transposeB ? (long)jc * ldb + pc : (long)pc * ldb + jc;
                if (bType == DType.F32)
                    GemmPacking.PackB((float*)b + bOffset, ldb, transposeB, kc, nc, nr, buffers.B, path != KernelPath.Scalar);
                else if (bType.IsQuantized())
                    GemmPacking.PackBQuantized((byte*)Advance(b, bType, bOffset), bType, ldb, transposeB, kc, nc, nr, buffers.B, buffers.Scratch, path != KernelPath.Scalar);
                else
                    GemmPacking.PackB16((ushort*)b + bOffset, bType, ldb, transposeB, kc, nc, nr, buffers.B, buffers.Scratch, path != KernelPath.Scalar);
                for (int ic = 0; ic < m; ic += mcBlock)
                {
                    int mc = Math.Min(mcBlock, m - ic);
                    float* aBlock;
                    if (packedA != null)
                    {
                        aBlock = packedA + (long)RoundUp(m, mr) * pc + (long)ic * kc;
                    }
                    else
                    {
                        long aOffset = transposeA ? (long)pc * lda + ic : (long)ic * lda + pc;
                        GemmPacking.PackA(a + aOffset, lda, transposeA, mc, kc, mr, GemmMicroKernels.TailMr(path), buffers.A, path != KernelPath.Scalar);
                        aBlock = buffers.A;
                    }
                    MacroKernel(path, mc, nc, kc, mr, nr, aBlock, buffers, c + (long)ic * ldc + jc, ldc, sliceBeta);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroKernel(KernelPath path, int mc, int nc, int kc, int mr, int nr, float* aBlock, GemmBuffers buffers, float* c, int ldc, float beta)
    {
        int tailMr = GemmMicroKernels.TailMr(path);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* bPanel = buffers.B + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                bool tail = rows <= tailMr && tailMr < mr;
                float* aPanel = aBlock + (long)ir * kc;
                float* cTile = c + (long)ir * ldc + jr;
                if ((rows == mr || rows == tailMr) && cols == nr)
                {
                    GemmMicroKernels.Tile(path, tail, kc, aPanel, bPanel, cTile, ldc, beta);
                    continue;
                }
                // Edge tile: compute the full tile into scratch, then merge only the valid part.
                GemmMicroKernels.Tile(path, tail, kc, aPanel, bPanel, buffers.Tile, nr, 0f);
                for (int i = 0; i < rows; i++)
                {
                    var src = new ReadOnlySpan<float>(buffers.Tile + i * nr, cols);
                    var dst = new Span<float>(cTile + (long)i * ldc, cols);
                    if (beta == 0f) src.CopyTo(dst);
                    else if (beta == 1f) TensorPrimitives.Add(dst, src, dst);
                    else TensorPrimitives.MultiplyAdd(dst, beta, src, dst);
                }
            }
        }
    }

    /// <summary>
    /// <paramref name="b"/> moved by <paramref name="elements"/> elements. For quantized B every offset the driver
    /// forms is a whole number of blocks: rows are, KC (256) slices are, and column tasks are rounded by <see cref="ColumnUnit"/>.
    /// </summary>
    private static void* Advance(void* b, DType bType, long elements) => bType switch
    {
        DType.F32 => (float*)b + elements,
        DType.F16 or DType.BF16 => (ushort*)b + elements,
        _ => (byte*)b + bType.ByteCount(elements),
    };

    /// <summary>Column tasks are multiples of NR, and of the block size where B's rows run along the columns.</summary>
    private static int ColumnUnit(KernelPath path, DType bType, bool transposeB) =>
        bType.IsQuantized() && !transposeB ? Math.Max(GemmMicroKernels.Nr(path), bType.BlockElements()) : GemmMicroKernels.Nr(path);

    private static void ScaleC(int m, int n, float* c, int ldc, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) TensorPrimitives.Multiply(row, beta, row);
        }
    }

    private static void Validate(int m, int n, int k, long aLength, int lda, bool transposeA, long bLength, int ldb, bool transposeB,
        long cLength, int ldc, KernelPath path)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"negative GEMM size m={m}, n={n}, k={k}");
        if (!KernelPaths.IsSupported(path)) throw new PlatformNotSupportedException($"kernel path {path} is not supported on this CPU");
        CheckOperand("A", transposeA ? k : m, transposeA ? m : k, aLength, lda);
        CheckOperand("B", transposeB ? n : k, transposeB ? k : n, bLength, ldb);
        CheckOperand("C", m, n, cLength, ldc);
    }

    /// <summary>A stored rows×cols with row stride ld must have ld ≥ cols and reach its last element.</summary>
    private static void CheckOperand(string name, int rows, int cols, long length, int ld)
    {
        if (ld < Math.Max(1, cols)) throw new ArgumentException($"leading dimension of {name} ({ld}) is smaller than its row width {cols}");
        if (rows == 0 || cols == 0) return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"{name} ({rows}×{cols}, leading dimension {ld}) needs {needed} elements, got {length}");
    }

    private static int CeilDiv(int x, int y) => (x + y - 1) / y;

    private static int RoundUp(int x, int multiple) => CeilDiv(x, multiple) * multiple;
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// C = beta·C + A·Wᵀ for m activation rows A [m, k] and a quantized weight matrix W [n, k] (the nn.Linear layout):
/// the prefill product when no gradient is needed. As llama.cpp does, every activation row is quantized once to 8
/// bits per 32 values (<see cref="QuantizedGemv"/>'s format), the weights stay in their blocks, and the integer
/// dot-product kernels take four activation rows per weight row, so each weight block is unpacked (nibbles, high
/// bits, scales) once for four rows and the four rows' levels stay in L1 while a chunk of weight rows streams from L2.
/// Threads split the weight rows. Q8_0 and K-quant weights with four rows or more take <see cref="QuantizedPanelGemm"/>'s
/// interleaved panels instead. Gradients take <see cref="Gemm"/>'s dequantizing path.
/// </summary>
public static unsafe class QuantizedGemm
{
    /// <summary>Weight bytes per task: a chunk of rows that stays in L2 while every group of four activation rows passes over it.</summary>
    private const long ChunkBytes = 128 * 1024;

    /// <summary>From this many activation rows, Q8_0 and K-quant weights go through <see cref="QuantizedPanelGemm"/> (its tiles take four rows).</summary>
    private const int PanelRowsFrom = 4;

    /// <summary>
    /// W's row r starts at element r·<paramref name="ldw"/> of <paramref name="w"/>'s block sequence
    /// (<paramref name="ldw"/> ≥ k, both whole blocks).
    /// </summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<byte> w, DType wType, int ldw, Span<float> c, int ldc, float beta = 0f)
        => Multiply(m, n, k, a, lda, w, wType, ldw, c, ldc, beta, KernelPaths.Best);

    /// <summary>As above on a chosen instruction set (tests compare every supported path).</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<byte> w, DType wType, int ldw, Span<float> c, int ldc, float beta, KernelPath path)
    {
        QuantizedGemv.RequireBlocks(wType, k);
        QuantizedGemv.RequireBlocks(wType, ldw);
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"negative shape {m}×{n}×{k}");
        if (lda < k || ldc < n || ldw < k) throw new ArgumentException($"leading dimensions too small: lda {lda} or ldw {ldw} < k {k}, or ldc {ldc} < n {n}");
        if (!KernelPaths.IsSupported(path)) throw new ArgumentException($"kernel path {path} is not supported on this CPU", nameof(path));
        if (m == 0 || n == 0) return;
        long rowBytes = wType.ByteCount(ldw);
        if (a.Length < (long)(m - 1) * lda + k) throw new ArgumentException($"A holds {a.Length} values, {m} rows of {k} at stride {lda} need {(long)(m - 1) * lda + k}", nameof(a));
        if (w.Length < rowBytes * (n - 1) + wType.ByteCount(k)) throw new ArgumentException($"W holds {w.Length} bytes, {n} rows of {k} {wType} values {ldw} apart need {rowBytes * (n - 1) + wType.ByteCount(k)}", nameof(w));
        if (c.Length < (long)(m - 1) * ldc + n) throw new ArgumentException($"C holds {c.Length} values, {m} rows of {n} at stride {ldc} need {(long)(m - 1) * ldc + n}", nameof(c));
        fixed (float* pa = a)
        fixed (byte* pw = w)
        fixed (float* pc = c)
            Run(path, wType, m, n, k, pa, lda, pw, rowBytes, pc, ldc, beta);
    }

    private struct Job
    {
        public KernelPath Path;
        public DType Type;
        public int M, N, RowsPerTask, Ldc;
        public long RowBytes;
        public byte* W;
        public float* C;
        public float Beta;
        public QuantizedGemv.Activation X;
    }

    /// <summary>The product on already checked pointers; one row goes to the GEMV.</summary>
    internal static void Run(KernelPath path, DType type, int m, int n, int k, float* a, int lda, byte* w, long rowBytes, float* c, int ldc, float beta)
    {
        if (m == 1)
        {
            QuantizedGemv.Run(path, type, n, k, a, w, rowBytes, c, beta);
            return;
        }
        if (m >= PanelRowsFrom && QuantizedPanelGemm.Supports(type))
        {
            QuantizedPanelGemm.Run(path, type, m, n, k, a, lda, w, rowBytes, c, ldc, beta);
            return;
        }
        var job = new Job
        {
            Path = path, Type = type, M = m, N = n, Ldc = ldc, RowBytes = rowBytes, W = w, C = c, Beta = beta,
            X = QuantizedGemv.QuantizeRows(type, a, lda, m, k, QuantizedGemv.InterleavesPairs(path, type)),
            RowsPerTask = (int)Math.Clamp(ChunkBytes / rowBytes, 1, n),
        };
        // Enough tasks for a thread slowed by a busy core to hand work to the other.
        int minTasks = 4 * WorkerPool.Concurrency;
        if ((n + job.RowsPerTask - 1) / job.RowsPerTask < minTasks) job.RowsPerTask = Math.Max(1, (n + minTasks - 1) / minTasks);
        WorkerPool.ParallelFor((n + job.RowsPerTask - 1) / job.RowsPerTask, job, static (j, t) => RunChunk(j, t));
    }

    private static void RunChunk(in Job j, int task)
    {
        int r0 = task * j.RowsPerTask, r1 = Math.Min(j.N, r0 + j.RowsPerTask);
        var rows = stackalloc QuantizedGemv.Activation[4];
        float* dots = stackalloc float[4];
        for (int i0 = 0; i0 < j.M; i0 += 4)
        {
            int count = Math.Min(4, j.M - i0);
            for (int i = 0; i < count; i++) rows[i] = j.X.Row(i0 + i);
            for (int r = r0; r < r1; r++)
            {
                byte* weights = j.W + r * j.RowBytes;
                if (count == 4) QuantizedGemv.Dot<QuantizedGemv.FourRows>(j.Path, j.Type, weights, j.RowBytes, 1, rows, dots);
                else for (int i = 0; i < count; i++) QuantizedGemv.Dot<QuantizedGemv.OneRow>(j.Path, j.Type, weights, j.RowBytes, 1, rows + i, dots + i);
                for (int i = 0; i < count; i++)
                {
                    float* y = j.C + (long)(i0 + i) * j.Ldc + r;
                    *y = j.Beta == 0f ? dots[i] : dots[i] + j.Beta * *y;
                }
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// y = beta·y + W·x for one activation row x and a quantized weight matrix W stored [n, k] (rows of blocks): the
/// decode-time product, bound by streaming W once. x is first quantized to 8 bits per block of the weights' own
/// size — 32 values for Q8_0/Q4_0, 256 for the K-quants (ggml's Q8_K) — with scale D = max|x|/127 and the sums of
/// levels per 16 and per 32 values; then every weight block meets its activation block as an integer dot product
/// (<c>vpmaddubsw</c>: unsigned weight levels × signed activations, then <c>vpmaddwd</c>). Q8_0's signed weights go
/// through the sign trick (|w| and sign(w)·x). The K-quants' 6/8-bit sub-block scales multiply in the integer
/// domain (<c>vpmaddwd</c> against the scales instead of ones), so a 256-value super-block accumulates in int32 and
/// meets d·D once; zero points (Q4_0's 8, Q6_K's 32) and K-quant minimums come out of the level sums, so the inner
/// loops only multiply levels. Threads split the rows.
/// </summary>
/// <remarks>
/// The cost of 8-bit activations: each activation carries a rounding error of at most D/2 = max|x|/254 of its
/// block, so a dot product moves by at most Σ|w|·D/2 (see README, "Quantized GGUF weights").
/// </remarks>
public static unsafe class QuantizedGemv
{
    /// <summary>
    /// An activation row quantized per block of <see cref="BlockValues"/> (32 or 256): int8 levels, f32 scales D,
    /// sums of levels per 16 and per 32 values (int16), and for 32-value blocks what the 512-bit Q8_0 kernel reads as
    /// a vector: the scales of each pair of blocks spread over 16 lanes (eight each).
    /// </summary>
    internal readonly struct Activation(sbyte* q, float* scale, short* sum16, short* sum32, float* scalePairs, int k, int blockValues)
    {
        public readonly sbyte* Q = q;
        public readonly float* Scale = scale;
        public readonly short* Sum16 = sum16;
        public readonly short* Sum32 = sum32;
        public readonly float* ScalePairs = scalePairs;
        public readonly int K = k;
        public readonly int BlockValues = blockValues;

        /// <summary>Floats of <see cref="ScalePairs"/> per row: 16 per pair of blocks, a last odd block taking a whole pair.</summary>
        public static long ScalePairFloats(int k) => (k / 32 + 1) / 2 * 16L;

        /// <summary>Row <paramref name="i"/> of rows quantized back to back starting at this one.</summary>
        public Activation Row(int i)
        {
            long offset = (long)i * K;
            return new Activation(Q + offset, Scale + offset / BlockValues, Sum16 + offset / 16, Sum32 + offset / 32, ScalePairs + i * ScalePairFloats(K), K, BlockValues);
        }
    }

    /// <summary>Values per activation scale for weights of <paramref name="type"/>: the K-quants' super-block, else 32.</summary>
    internal static int ActivationBlock(DType type) => type is DType.Q4_K or DType.Q5_K or DType.Q6_K ? BlockQuantization.QKK : BlockQuantization.QK;

    /// <summary>Per-thread activation buffers, grown to the most values seen.</summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? t_current;
        private long _capacity;
        public sbyte* Q;
        public float* Scale, ScalePairs;
        public short* Sum16, Sum32;

        public static Buffers For(long values)
        {
            var b = t_current ??= new Buffers();
            if (b._capacity < values) b.Grow(values);
            return b;
        }

        private void Grow(long values)
        {
            Free();
            _capacity = values;
            Q = (sbyte*)NativeMemory.AlignedAlloc((nuint)values, 64);
            Scale = Floats(values / 32);
            Sum16 = (short*)Floats(values / 32);
            Sum32 = (short*)Floats(values / 64);
            // At most 16 floats per 32 values (rows of one block each).
            ScalePairs = Floats(values / 2);
        }

        private static float* Floats(long count) => (float*)NativeMemory.AlignedAlloc((nuint)(count + 16) * sizeof(float), 64);

        private void Free()
        {
            NativeMemory.AlignedFree(Q);
            NativeMemory.AlignedFree(Scale);
            NativeMemory.AlignedFree(Sum16);
            NativeMemory.AlignedFree(Sum32);
            NativeMemory.AlignedFree(ScalePairs);
        }

        ~Buffers() => Free();
    }

    /// <summary>
    /// <paramref name="m"/> rows of <paramref name="k"/> activations, <paramref name="lda"/> apart, quantized into this
    /// thread's buffers in the format <paramref name="type"/>'s kernels read; row i's levels start at i·k, each 128
    /// values' middle pairs swapped when <paramref name="interleavePairs"/> (<see cref="InterleavesPairs"/>).
    /// </summary>
    internal static Activation QuantizeRows(DType type, float* a, int lda, int m, int k, bool interleavePairs = false)
    {
        var b = Buffers.For((long)m * k);
        var first = new Activation(b.Q, b.Scale, b.Sum16, b.Sum32, b.ScalePairs, k, ActivationBlock(type));
        var rows = new RowsJob { A = a, Lda = lda, Rows = m, First = first, InterleavePairs = interleavePairs };
        // Rounding costs about as much as a dot product of the row against 2 weight rows: worth threads only for many rows.
        int tasks = m < 64 ? 1 : Math.Min(m, 4 * WorkerPool.Concurrency);
        rows.PerTask = (m + tasks - 1) / tasks;
        WorkerPool.ParallelFor((m + rows.PerTask - 1) / rows.PerTask, rows, static (j, t) =>
        {
            int end = Math.Min((t + 1) * j.PerTask, j.Rows);
            for (int i = t * j.PerTask; i < end; i++) QuantizeRow(j.A + (long)i * j.Lda, j.First.Row(i), j.InterleavePairs);
        });
        return first;
    }

    private struct RowsJob
    {
        public float* A;
        public Activation First;
        public int Lda, PerTask, Rows;
        public bool InterleavePairs;
    }

    /// <summary>
    /// One row: per block D = max|x|/127 and levels round(x/D) (to even, as <c>vcvtps2dq</c> rounds, so both paths
    /// agree bit for bit), with the sums of levels per 16 and 32 values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeRow(float* x, in Activation row, bool interleavePairs)
    {
        int bv = row.BlockValues;
        for (int blk = 0; blk < row.K / bv; blk++)
        {
            float* xb = x + blk * bv;
            sbyte* qb = row.Q + blk * bv;
            short* sum16 = row.Sum16 + blk * bv / 16;
            float amax = 0f;
            int j = 0;
            if (Avx512F.IsSupported)
            {
                var max = Vector512<float>.Zero;
                for (; j < bv; j += 16) max = Avx512F.Max(max, Vector512.Abs(Avx512F.LoadVector512(xb + j)));
                amax = MaxAcross(max);
            }
            else
                for (; j < bv; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float id = amax > 0f ? 127f / amax : 0f, d = amax / 127f;
            row.Scale[blk] = d;
            j = 0;
            if (Avx512F.IsSupported)
            {
                var idv = Vector512.Create(id);
                for (; j < bv; j += 16)
                {
                    var levels = Avx512F.ConvertToVector512Int32(Avx512F.Multiply(Avx512F.LoadVector512(xb + j), idv));
                    Sse2.Store(qb + LevelPosition(j, interleavePairs), Avx512F.ConvertToVector128SByte(levels));
                    sum16[j / 16] = (short)Vector512.Sum(levels);
                }
            }
            for (; j < bv; j += 16)
            {
                int sum = 0;
                for (int l = j; l < j + 16; l++)
                {
                    int level = (int)MathF.Round(xb[l] * id);
                    qb[LevelPosition(l, interleavePairs)] = (sbyte)level;
                    sum += level;
                }
                sum16[j / 16] = (short)sum;
            }
            for (int p = 0; p < bv / 32; p++) row.Sum32[blk * bv / 32 + p] = (short)(sum16[2 * p] + sum16[2 * p + 1]);
            // Block 2p + h fills lanes 8h..8h+7 of pair p.
            if (bv == BlockQuantization.QK) new Span<float>(row.ScalePairs + blk / 2 * 16 + blk % 2 * 8, 8).Fill(d);
        }
    }

    /// <summary>Where value <paramref name="v"/> of a block is stored: in place, or with each 128 values' 32-value pairs 1 and 2 swapped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LevelPosition(int v, bool interleavePairs) =>
        interleavePairs && ((v >> 5) & 3) is 1 or 2 ? v ^ 0x60 : v;

    private static float MaxAcross(Vector512<float> v)
    {
        var m4 = Vector128.Max(Vector256.Max(v.GetLower(), v.GetUpper()).GetLower(), Vector256.Max(v.GetLower(), v.GetUpper()).GetUpper());
        return MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
    }

    private struct Job
    {
        public KernelPath Path;
        public DType Type;
        public int N, PerTask;
        public long RowBytes;
        public byte* W;
        public float* Y;
        public float Beta;
        public Activation X;
    }

    /// <summary>y[0..n) = beta·y + W·x with W [n, k] of <paramref name="type"/> blocks at <paramref name="w"/>, rows <paramref name="rowBytes"/> apart.</summary>
    public static void Run(KernelPath path, DType type, int n, int k, float* x, byte* w, long rowBytes, float* y, float beta)
    {
        RequireBlocks(type, k);
        if (n == 0) return;
        var job = new Job { Path = path, Type = type, N = n, RowBytes = rowBytes, W = w, Y = y, Beta = beta, X = QuantizeRows(type, x, k, 1, k, InterleavesPairs(path, type)) };
        int threads = WorkerPool.Concurrency;
        int tasks = (long)n * k < (1 << 18) || threads == 1 ? 1 : Math.Min(threads * 8, (n + 15) / 16);
        job.PerTask = (n + tasks - 1) / tasks;
        tasks = (n + job.PerTask - 1) / job.PerTask;
        WorkerPool.ParallelFor(tasks, job, static (j, t) =>
        {
            int r1 = Math.Min(j.N, (t + 1) * j.PerTask);
            var x = j.X;
            float* dots = stackalloc float[RowsPerCall];
            for (int r0 = t * j.PerTask; r0 < r1; r0 += RowsPerCall)
            {
                int rows = Math.Min(RowsPerCall, r1 - r0);
                float* y = j.Y + r0;
                // With beta = 0 the dots go straight to y; otherwise through the buffer, to be added to y's values.
                Dot<OneRow>(j.Path, j.Type, j.W + r0 * j.RowBytes, j.RowBytes, rows, &x, j.Beta == 0f ? y : dots);
                if (j.Beta != 0f) for (int r = 0; r < rows; r++) y[r] = dots[r] + j.Beta * y[r];
            }
        });
    }

    /// <summary>Weight rows per kernel call in decode: the kernels' set-up and dispatch cost about as much as a 2,048-value row otherwise.</summary>
    private const int RowsPerCall = 64;

    internal static void RequireBlocks(DType type, int k)
    {
        if (!type.IsQuantized()) throw new ArgumentException($"{type} is not a quantized type", nameof(type));
        if (k % type.BlockElements() != 0) throw new ArgumentException($"rows of {k} values are not a whole number of {type} blocks");
    }

    /// <summary>How many activation rows a dot-product kernel meets at once (each weight block is decoded once for all of them).</summary>
    internal interface IRows
    {
        static abstract int Count { get; }
    }

    /// <summary>Decode: one activation row.</summary>
    internal readonly struct OneRow : IRows
    {
        public static int Count => 1;
    }

    /// <summary>Prefill: four activation rows per weight row.</summary>
    internal readonly struct FourRows : IRows
    {
        public static int Count => 4;
    }

    /// <summary>
    /// <paramref name="rows"/> weight rows (k values of <paramref name="type"/> each, <paramref name="rowBytes"/> apart
    /// from <paramref name="row"/>) · each of <typeparamref name="TRows"/>'s activation rows at <paramref name="x"/>:
    /// weight row r's dots at y[r·count .. r·count + count).
    /// </summary>
    internal static void Dot<TRows>(KernelPath path, DType type, byte* row, long rowBytes, int rows, Activation* x, float* y) where TRows : struct, IRows
    {
        if (path == KernelPath.Avx512)
        {
            // The 512-bit kernels loop over the rows themselves, so their set-up is paid once per call.
            switch (type)
            {
                case DType.Q8_0: DotQ8_0Avx512<TRows>(row, rowBytes, rows, x, y); return;
                case DType.Q4_K: DotKWithMinsAvx512<TRows, Q4Levels>(row, rowBytes, rows, x, y); return;
                case DType.Q5_K: DotKWithMinsAvx512<TRows, Q5Levels>(row, rowBytes, rows, x, y); return;
                case DType.Q6_K: DotQ6_KAvx512<TRows>(row, rowBytes, rows, x, y); return;
            }
        }
        for (int r = 0; r < rows; r++, row += rowBytes, y += TRows.Count) DotNarrow<TRows>(path, type, row, x, y);
    }

    /// <summary>One weight row on the AVX2 kernels (and Q4_0 on AVX-512), or the scalar integer code below AVX2.</summary>
    private static void DotNarrow<TRows>(KernelPath path, DType type, byte* row, Activation* x, float* y) where TRows : struct, IRows
    {
        // The integer dot products need 256-bit byte multiply-adds; the 128-bit path runs the scalar integer code.
        if (path < KernelPath.Avx2)
        {
            for (int i = 0; i < TRows.Count; i++) y[i] = DotScalar(type, row, x[i]);
            return;
        }
        switch (type)
        {
            case DType.Q8_0: DotQ8_0Avx2<TRows>(row, x, y); break;
            case DType.Q4_0: DotQ4_0Avx2<TRows>(row, x, y); break;
            case DType.Q4_K: DotKWithMinsAvx2<TRows>(row, x, y, fifthBit: false); break;
            case DType.Q5_K: DotKWithMinsAvx2<TRows>(row, x, y, fifthBit: true); break;
            case DType.Q6_K: DotQ6_KAvx2<TRows>(row, x, y); break;
            default: throw new ArgumentException($"{type} is not a quantized type", nameof(type));
        }
    }

    private static float DotScalar(DType type, byte* row, in Activation x) => type switch
    {
        DType.Q8_0 => DotQ8_0Scalar(row, x),
        DType.Q4_0 => DotQ4_0Scalar(row, x),
        DType.Q4_K => DotKWithMinsScalar(row, x, fifthBit: false),
        DType.Q5_K => DotKWithMinsScalar(row, x, fifthBit: true),
        DType.Q6_K => DotQ6_KScalar(row, x),
        _ => throw new ArgumentException($"{type} is not a quantized type", nameof(type)),
    };

    /// <summary>Activation row i of the kernel's <typeparamref name="TRows"/>, or row 0 where the kernel takes fewer (never read then).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Activation RowOf<TRows>(Activation* x, int i) where TRows : struct, IRows => TRows.Count > i ? x[i] : x[0];

    /// <summary>Eight int32 partial sums of u·s over 32 byte pairs (u unsigned levels, s signed activations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotBytes(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));

    private static Vector256<sbyte> LoadActivation(in Activation x, int block) => Avx.LoadVector256(x.Q + block * 32);

    /// <summary>Sixteen int32 partial sums of u·s over 64 byte pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> DotBytes(Vector512<byte> u, Vector512<sbyte> s) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, s), Vector512.Create((short)1));

    /// <summary>Activation blocks <paramref name="block"/> and <paramref name="block"/> + 1 (adjacent in memory).</summary>
    private static Vector512<sbyte> LoadActivationPair(in Activation x, int block) => Avx512F.LoadVector512(x.Q + block * 32);

    /// <summary>Lanes 0–7 <paramref name="lower"/>, lanes 8–15 <paramref name="upper"/>: one scale per 32-value half.</summary>
    private static Vector512<float> HalfScales(float lower, float upper) => Vector512.Create(Vector256.Create(lower), Vector256.Create(upper));

    /// <summary>The activation scales of blocks <paramref name="block"/> (even) and <paramref name="block"/> + 1 as <see cref="HalfScales"/> lays them out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ActivationScalePair(in Activation x, int block) => Avx512F.LoadVector512(x.ScalePairs + block / 2 * 16);

    /// <summary>Each row's accumulated lanes less its offset (zero points, minimums), into y[0..<typeparamref name="TRows"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TRows>(float* y, Vector256<float> acc0, Vector256<float> acc1, Vector256<float> acc2, Vector256<float> acc3,
        float offset0, float offset1, float offset2, float offset3) where TRows : struct, IRows =>
        Store<TRows>(y, Vector256.Sum(acc0) - offset0, Vector256.Sum(acc1) - offset1, Vector256.Sum(acc2) - offset2, Vector256.Sum(acc3) - offset3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TRows>(float* y, Vector512<float> acc0, Vector512<float> acc1, Vector512<float> acc2, Vector512<float> acc3,
        float offset0, float offset1, float offset2, float offset3) where TRows : struct, IRows =>
        Store<TRows>(y, Vector512.Sum(acc0) - offset0, Vector512.Sum(acc1) - offset1, Vector512.Sum(acc2) - offset2, Vector512.Sum(acc3) - offset3);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TRows>(float* y, float dot0, float dot1, float dot2, float dot3) where TRows : struct, IRows
    {
        y[0] = dot0;
        if (TRows.Count == 1) return;
        y[1] = dot1;
        y[2] = dot2;
        y[3] = dot3;
    }

    // ---- Q8_0 ----

    private static float DotQ8_0Scalar(byte* row, in Activation x)
    {
        float sum = 0f;
        for (int b = 0; b < x.K / 32; b++)
        {
            byte* blk = row + b * 34;
            sbyte* w = (sbyte*)(blk + 2), a = x.Q + b * 32;
            int dot = 0;
            for (int j = 0; j < 32; j++) dot += w[j] * a[j];
            sum += BlockQuantization.Half(blk) * x.Scale[b] * dot;
        }
        return sum;
    }

    /// <summary>Signed weights through the sign trick: |w| (unsigned) · sign(w)·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0BlockAvx2(Vector256<sbyte> w, float weightScale, in Activation x, int b, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotBytes(Avx2.Sign(w, w).AsByte(), Avx2.Sign(LoadActivation(x, b), w))),
            Vector256.Create(weightScale * x.Scale[b]), acc);

    /// <summary>Blocks [<paramref name="firstBlock"/>, k/32) of the row (the AVX-512 kernel's odd last block, or all of them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ8_0Avx2<TRows>(byte* row, Activation* xs, float* y, int firstBlock = 0) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = firstBlock; b < x0.K / 32; b++)
        {
            byte* blk = row + b * 34;
            var w = Avx.LoadVector256((sbyte*)(blk + 2));
            float d = Half(halves, blk);
            acc0 = Q8_0BlockAvx2(w, d, x0, b, acc0);
            if (TRows.Count > 1)
            {
                acc1 = Q8_0BlockAvx2(w, d, x1, b, acc1);
                acc2 = Q8_0BlockAvx2(w, d, x2, b, acc2);
                acc3 = Q8_0BlockAvx2(w, d, x3, b, acc3);
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, 0f, 0f, 0f, 0f);
    }

    /// <summary>Two blocks of one activation row; AVX-512 has no byte sign instruction, so sign(w)·x is a masked negate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q8_0PairAvx512(Vector512<byte> absW, Vector512<sbyte> negative, Vector512<float> weightScales, in Activation x, int b, Vector512<float> acc)
    {
        var a = LoadActivationPair(x, b);
        var signed = Vector512.ConditionalSelect(negative, Vector512<sbyte>.Zero - a, a);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(DotBytes(absW, signed)), weightScales * ActivationScalePair(x, b), acc);
    }

    /// <summary>Two blocks per 512-bit step, an odd last block by the AVX2 kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ8_0Avx512<TRows>(byte* row, long rowBytes, int rows, Activation* xs, float* y) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        float* last = stackalloc float[4];
        for (int r = 0; r < rows; r++, row += rowBytes, y += TRows.Count)
        {
            Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            int blocks = x0.K / 32, b = 0;
            for (; b + 2 <= blocks; b += 2)
            {
                byte* blk = row + b * 34;
                var w = Vector512.Create(Avx.LoadVector256((sbyte*)(blk + 2)), Avx.LoadVector256((sbyte*)(blk + 36)));
                var absW = Vector512.Abs(w).AsByte();
                var negative = Vector512.LessThan(w, Vector512<sbyte>.Zero);
                var scales = HalfScales(Half(halves, blk), Half(halves, blk + 34));
                acc0 = Q8_0PairAvx512(absW, negative, scales, x0, b, acc0);
                if (TRows.Count > 1)
                {
                    acc1 = Q8_0PairAvx512(absW, negative, scales, x1, b, acc1);
                    acc2 = Q8_0PairAvx512(absW, negative, scales, x2, b, acc2);
                    acc3 = Q8_0PairAvx512(absW, negative, scales, x3, b, acc3);
                }
            }
            new Span<float>(last, 4).Clear();
            if (b < blocks) DotQ8_0Avx2<TRows>(row, xs, last, b);
            Store<TRows>(y, acc0, acc1, acc2, acc3, -last[0], -last[1], -last[2], -last[3]);
        }
    }

    // ---- Q4_0: x = d·(q − 8), so w·a = d·D·(Σ q·a − 8·Σ a) ----

    private static float DotQ4_0Scalar(byte* row, in Activation x)
    {
        float sum = 0f;
        for (int b = 0; b < x.K / 32; b++)
        {
            byte* blk = row + b * 18;
            sbyte* a = x.Q + b * 32;
            int dot = 0;
            for (int j = 0; j < 16; j++) dot += (blk[2 + j] & 0x0F) * a[j] + (blk[2 + j] >> 4) * a[j + 16];
            sum += BlockQuantization.Half(blk) * x.Scale[b] * (dot - 8 * x.Sum32[b]);
        }
        return sum;
    }

    /// <summary>Unsigned levels against one activation block, the block's scale applied in f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LevelsBlockAvx2(Vector256<byte> levels, float scale, in Activation x, int b, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotBytes(levels, LoadActivation(x, b))), Vector256.Create(scale), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ4_0Avx2<TRows>(byte* row, Activation* xs, float* y) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float off0 = 0f, off1 = 0f, off2 = 0f, off3 = 0f;
        var low = Vector256.Create((byte)0x0F);
        for (int b = 0; b < x0.K / 32; b++)
        {
            byte* blk = row + b * 18;
            var packed = Sse2.LoadVector128(blk + 2);
            // Low nibbles are values 0–15, high nibbles 16–31: one 256-bit vector of levels in value order.
            var levels = Avx2.And(Vector256.Create(packed, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()), low);
            float d = Half(halves, blk);
            acc0 = LevelsBlockAvx2(levels, d * x0.Scale[b], x0, b, acc0);
            off0 += d * x0.Scale[b] * 8 * x0.Sum32[b];
            if (TRows.Count > 1)
            {
                acc1 = LevelsBlockAvx2(levels, d * x1.Scale[b], x1, b, acc1);
                off1 += d * x1.Scale[b] * 8 * x1.Sum32[b];
                acc2 = LevelsBlockAvx2(levels, d * x2.Scale[b], x2, b, acc2);
                off2 += d * x2.Scale[b] * 8 * x2.Sum32[b];
                acc3 = LevelsBlockAvx2(levels, d * x3.Scale[b], x3, b, acc3);
                off3 += d * x3.Scale[b] * 8 * x3.Sum32[b];
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, off0, off1, off2, off3);
    }

    // ---- Q4_K / Q5_K: x = d·scale_j·q − dmin·min_j per 32-value pair j; one activation scale D per super-block ----

    private static float DotKWithMinsScalar(byte* row, in Activation x, bool fifthBit)
    {
        int blockBytes = fifthBit ? 176 : 144;
        float sum = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qh = blk + 16, qs = blk + (fifthBit ? 48 : 16);
            BlockQuantization.ScalesAndMins(blk + 4, out ulong scales, out ulong mins);
            int levels = 0, offsets = 0;
            for (int j = 0; j < 8; j++)
            {
                int shift = (j & 1) * 4;
                sbyte* a = x.Q + sb * 256 + 32 * j;
                byte* q = qs + 32 * (j / 2);
                int dot = 0;
                for (int l = 0; l < 32; l++)
                {
                    int level = (q[l] >> shift) & 0x0F;
                    if (fifthBit) level |= ((qh[l] >> j) & 1) << 4;
                    dot += level * a[l];
                }
                levels += (int)(byte)(scales >> (8 * j)) * dot;
                offsets += (int)(byte)(mins >> (8 * j)) * x.Sum32[sb * 8 + j];
            }
            sum += x.Scale[sb] * (BlockQuantization.Half(blk) * levels - BlockQuantization.Half(blk + 2) * offsets);
        }
        return sum;
    }

    /// <summary>Eight 16-bit lanes per byte of <paramref name="packed"/> (zero-extended): the eight 6-bit scales or minimums of a K-quant super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<short> Widen(ulong packed) => Sse41.ConvertToVector128Int16(Vector128.CreateScalar(packed).AsByte());

    /// <summary>The f32 value of the f16 at <paramref name="p"/>, from <see cref="BlockQuantization.Halves"/> read once per kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half(float* halves, byte* p) => halves[*(ushort*)p];

    /// <summary><c>vpshufb</c> indices that fill every 16-bit lane of a 128-bit lane with 16-bit element <paramref name="element"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Broadcast16(int element) => Vector128.Create((ushort)(2 * element | (2 * element + 1) << 8)).AsByte();

    /// <summary><c>vpshufb</c> indices that fill the four 128-bit lanes of a 512-bit vector with 16-bit elements <paramref name="lane0"/> ... <paramref name="lane3"/> of their lane.</summary>
    private static Vector512<byte> Broadcast16(int lane0, int lane1, int lane2, int lane3) =>
        Vector512.Create(Vector256.Create(Broadcast16(lane0), Broadcast16(lane1)), Vector256.Create(Broadcast16(lane2), Broadcast16(lane3)));

    /// <summary>One row's running K-quant dot: its super-blocks' scaled level sums, less the minimums' offsets.</summary>
    private readonly struct KRowDot(Vector256<float> levels, Vector128<float> minimums)
    {
        public readonly Vector256<float> Levels = levels;
        public readonly Vector128<float> Minimums = minimums;

        public float Value => Vector256.Sum(Levels) - Vector128.Sum(Minimums);
    }

    /// <summary>What a Q4_K/Q5_K super-block adds to a row's dot once its int32 level sums are in: those times d·D, and Σ min_j·(level sum of pair j) times dmin·D.</summary>
    private readonly struct KSuperBlock(float* halves, byte* blk, ulong mins8)
    {
        private readonly float _d = Half(halves, blk), _dmin = Half(halves, blk + 2);
        private readonly Vector128<short> _mins = Widen(mins8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public KRowDot Add(KRowDot dot, Vector256<int> levels, in Activation x, int sb) => new(
            Fma.MultiplyAdd(Avx.ConvertToVector256Single(levels), Vector256.Create(_d * x.Scale[sb]), dot.Levels),
            Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(_mins, Sse2.LoadVector128(x.Sum32 + sb * 8))), Vector128.Create(_dmin * x.Scale[sb]), dot.Minimums));
    }

    /// <summary>Two 32-value pairs (low and high nibbles of one 32-byte chunk) against 64 activations, their scales multiplied in by <c>vpmaddwd</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> KChunkAvx2(Vector256<byte> lo, Vector256<byte> hi, Vector256<short> scaleLo, Vector256<short> scaleHi, sbyte* a, Vector256<int> sum) =>
        Avx2.Add(sum, Avx2.Add(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(a)), scaleLo),
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(a + 32)), scaleHi)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotKWithMinsAvx2<TRows>(byte* row, Activation* xs, float* y, bool fifthBit) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        KRowDot dot0 = default, dot1 = default, dot2 = default, dot3 = default;
        int blockBytes = fifthBit ? 176 : 144;
        var low = Vector256.Create((byte)0x0F);
        var one = Vector256.Create((byte)1);
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qs = blk + (fifthBit ? 48 : 16);
            BlockQuantization.ScalesAndMins(blk + 4, out ulong scales8, out ulong mins8);
            var scales = Widen(scales8).AsByte();
            var bothScales = Vector256.Create(scales, scales);
            var qh = fifthBit ? Avx.LoadVector256(blk + 16) : default;
            Vector256<int> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int chunk = 0; chunk < 4; chunk++)
            {
                var packed = Avx.LoadVector256(qs + 32 * chunk);
                var lo = Avx2.And(packed, low);
                var hi = Avx2.And(Avx2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte(), low);
                if (fifthBit)
                {
                    // Bit j of qh[l] is the fifth bit of pair j's value l; shifting 16-bit lanes keeps bytes apart after the mask.
                    lo = Avx2.Or(lo, Avx2.ShiftLeftLogical(Avx2.And(Vector256.ShiftRightLogical(qh.AsUInt16(), 2 * chunk).AsByte(), one).AsUInt16(), 4).AsByte());
                    hi = Avx2.Or(hi, Avx2.ShiftLeftLogical(Avx2.And(Vector256.ShiftRightLogical(qh.AsUInt16(), 2 * chunk + 1).AsByte(), one).AsUInt16(), 4).AsByte());
                }
                var scaleLo = Avx2.Shuffle(bothScales, Vector256.Create(Broadcast16(2 * chunk), Broadcast16(2 * chunk))).AsInt16();
                var scaleHi = Avx2.Shuffle(bothScales, Vector256.Create(Broadcast16(2 * chunk + 1), Broadcast16(2 * chunk + 1))).AsInt16();
                int at = sb * 256 + 64 * chunk;
                sum0 = KChunkAvx2(lo, hi, scaleLo, scaleHi, x0.Q + at, sum0);
                if (TRows.Count > 1)
                {
                    sum1 = KChunkAvx2(lo, hi, scaleLo, scaleHi, x1.Q + at, sum1);
                    sum2 = KChunkAvx2(lo, hi, scaleLo, scaleHi, x2.Q + at, sum2);
                    sum3 = KChunkAvx2(lo, hi, scaleLo, scaleHi, x3.Q + at, sum3);
                }
            }
            var end = new KSuperBlock(halves, blk, mins8);
            dot0 = end.Add(dot0, sum0, x0, sb);
            if (TRows.Count > 1) (dot1, dot2, dot3) = (end.Add(dot1, sum1, x1, sb), end.Add(dot2, sum2, x2, sb), end.Add(dot3, sum3, x3, sb));
        }
        Store<TRows>(y, dot0.Value, dot1.Value, dot2.Value, dot3.Value);
    }

    /// <summary>64 levels against 64 adjacent activations, each 16-lane group of the byte-pair sums multiplied by its weight scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> ScaledLevelsAvx512(Vector512<byte> levels, Vector512<short> scales16, sbyte* a, Vector512<int> sum) =>
        Avx512F.Add(sum, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Avx512F.LoadVector512(a)), scales16));

    /// <summary>The same 128-bit lane in all four lanes of a 512-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> InEveryLane(Vector128<byte> lane)
    {
        var half = Vector256.Create(lane, lane);
        return Vector512.Create(half, half);
    }

    /// <summary>Whether a K-quant with minimums has Q5_K's fifth bit plane: a type parameter, so each kind compiles to its own loop without branches.</summary>
    internal interface IFifthBit
    {
        static abstract bool Present { get; }
    }

    internal readonly struct Q4Levels : IFifthBit
    {
        public static bool Present => false;
    }

    internal readonly struct Q5Levels : IFifthBit
    {
        public static bool Present => true;
    }

    /// <summary>
    /// 64 bytes of levels (chunks 2h and 2h + 1: pairs 4h..4h + 3) per 512-bit load: the low nibbles are pairs 4h and
    /// 4h + 2, the high nibbles pairs 4h + 1 and 4h + 3, so the activations come in that order
    /// (<see cref="InterleavesPairs"/>) and one load, two masks and a shift feed two <c>vpmaddubsw</c> with no lane
    /// inserts. Each half's pair scales reach its 16-bit lanes by one <c>vpermw</c>; the super-block sums in int32 and
    /// meets d·D once; the minimums meet the activations' 32-value level sums as one <c>vpmaddwd</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotKWithMinsAvx512<TRows, TBits>(byte* row, long rowBytes, int rows, Activation* xs, float* y) where TRows : struct, IRows where TBits : struct, IFifthBit
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        for (int r = 0; r < rows; r++, row += rowBytes, y += TRows.Count)
        {
            KRowDot dot0 = default, dot1 = default, dot2 = default, dot3 = default;
            int blockBytes = TBits.Present ? 176 : 144;
            var low = Vector512.Create((byte)0x0F);
            // vpermw indices: pair p's scale over the lower 256 bits, pair p + 2's over the upper.
            Vector512<short> pick0 = ScalePairIndices(0), pick1 = ScalePairIndices(1), pick2 = ScalePairIndices(4), pick3 = ScalePairIndices(5);
            for (int sb = 0; sb < x0.K / 256; sb++)
            {
                byte* blk = row + sb * blockBytes, qs = blk + (TBits.Present ? 48 : 16);
                BlockQuantization.ScalesAndMins(blk + 4, out ulong scales8, out ulong mins8);
                var scales = Widen(scales8).ToVector256Unsafe().ToVector512Unsafe();
                var first = Avx512F.LoadVector512(qs);
                var second = Avx512F.LoadVector512(qs + 64);
                Vector512<byte> lo0 = first & low, hi0 = Vector512.ShiftRightLogical(first.AsUInt16(), 4).AsByte() & low;
                Vector512<byte> lo1 = second & low, hi1 = Vector512.ShiftRightLogical(second.AsUInt16(), 4).AsByte() & low;
                if (TBits.Present)
                {
                    // Bit j of qh[l] is the fifth bit of pair j's value l; the upper half pre-shifted by two lines pair
                    // p + 2 up with pair p, so shifting by p leaves each pair's bit in bit 0.
                    var qh = Avx.LoadVector256(blk + 16);
                    var qhPairs = Vector512.Create(qh, Vector256.ShiftRightLogical(qh.AsUInt16(), 2).AsByte()).AsUInt16();
                    var one = Vector512.Create((byte)1);
                    lo0 |= Vector512.ShiftLeft((qhPairs.AsByte() & one).AsUInt16(), 4).AsByte();
                    hi0 |= Vector512.ShiftLeft((Vector512.ShiftRightLogical(qhPairs, 1).AsByte() & one).AsUInt16(), 4).AsByte();
                    lo1 |= Vector512.ShiftLeft((Vector512.ShiftRightLogical(qhPairs, 4).AsByte() & one).AsUInt16(), 4).AsByte();
                    hi1 |= Vector512.ShiftLeft((Vector512.ShiftRightLogical(qhPairs, 5).AsByte() & one).AsUInt16(), 4).AsByte();
                }
                Vector512<short> s0 = Avx512BW.PermuteVar32x16(scales, pick0), s1 = Avx512BW.PermuteVar32x16(scales, pick1);
                Vector512<short> s2 = Avx512BW.PermuteVar32x16(scales, pick2), s3 = Avx512BW.PermuteVar32x16(scales, pick3);
                int at = sb * 256;
                var end = new KSuperBlock(halves, blk, mins8);
                dot0 = end.Add(dot0, KLevelSums(lo0, hi0, lo1, hi1, s0, s1, s2, s3, x0.Q + at), x0, sb);
                if (TRows.Count > 1)
                    (dot1, dot2, dot3) = (end.Add(dot1, KLevelSums(lo0, hi0, lo1, hi1, s0, s1, s2, s3, x1.Q + at), x1, sb),
                        end.Add(dot2, KLevelSums(lo0, hi0, lo1, hi1, s0, s1, s2, s3, x2.Q + at), x2, sb),
                        end.Add(dot3, KLevelSums(lo0, hi0, lo1, hi1, s0, s1, s2, s3, x3.Q + at), x3, sb));
            }
            Store<TRows>(y, dot0.Value, dot1.Value, dot2.Value, dot3.Value);
        }
    }

    /// <summary>A Q4_K/Q5_K super-block's scaled int32 level sums against 256 activations in <see cref="InterleavesPairs"/> order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> KLevelSums(Vector512<byte> lo0, Vector512<byte> hi0, Vector512<byte> lo1, Vector512<byte> hi1,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, sbyte* a) =>
        Fold(ScaledLevelsAvx512(hi1, s3, a + 192, ScaledLevelsAvx512(lo1, s2, a + 128, ScaledLevelsAvx512(hi0, s1, a + 64, ScaledLevelsAvx512(lo0, s0, a, default)))));

    /// <summary><c>vpermw</c> indices that fill the lower 16 lanes with element <paramref name="pair"/> and the upper 16 with element pair + 2.</summary>
    private static Vector512<short> ScalePairIndices(int pair) => Vector512.Create(Vector256.Create((short)pair), Vector256.Create((short)(pair + 2)));

    /// <summary>
    /// Whether <paramref name="type"/>'s <paramref name="path"/> kernel reads activations with each 128 values' middle
    /// 32-value pairs swapped (values 0–31, 64–95, 32–63, 96–127): the order in which one 512-bit load of Q4_K/Q5_K
    /// nibbles meets them.
    /// </summary>
    internal static bool InterleavesPairs(KernelPath path, DType type) => path == KernelPath.Avx512 && type is DType.Q4_K or DType.Q5_K;

    /// <summary>The two 256-bit halves of a super-block's int32 sums added (the lanes are summed in the end anyway).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Fold(Vector512<int> sums) => Avx2.Add(sums.GetLower(), sums.GetUpper());

    // ---- Q6_K: x = d·scale_g·(q − 32), one int8 scale per 16 values; one activation scale D per super-block ----

    private static float DotQ6_KScalar(byte* row, in Activation x)
    {
        float sum = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * 210, ql = blk, qh = blk + 128;
            sbyte* scales = (sbyte*)(blk + 192);
            int levels = 0, zeroPoints = 0;
            for (int half = 0; half < 2; half++)
            for (int t = 0; t < 4; t++)
            {
                sbyte* a = x.Q + sb * 256 + 128 * half + 32 * t;
                byte* l4 = ql + 64 * half + (t & 1) * 32, h = qh + 32 * half;
                int shift = t < 2 ? 0 : 4;
                for (int g = 0; g < 2; g++)
                {
                    int dot = 0;
                    for (int l = 16 * g; l < 16 * g + 16; l++)
                        dot += (((l4[l] >> shift) & 0x0F) | (((h[l] >> (2 * t)) & 3) << 4)) * a[l];
                    levels += scales[8 * half + 2 * t + g] * dot;
                }
            }
            for (int g = 0; g < 16; g++) zeroPoints += scales[g] * x.Sum16[sb * 16 + g];
            sum += BlockQuantization.Half(blk + 208) * x.Scale[sb] * (levels - 32 * zeroPoints);
        }
        return sum;
    }

    /// <summary>
    /// Σ_g scale_g·(level sum of group g) over a super-block's 16 groups, as eight int32 lanes times 32: what the zero
    /// point takes off the level products (lanes do not matter, the super-block's lanes are summed at the end).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6_KZeroPoints(Vector256<short> scales, in Activation x, int sb) =>
        Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(scales, Avx.LoadVector256(x.Sum16 + sb * 16)), 5);

    /// <summary>32 levels against 32 activations, each 16-value half multiplied by its scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> ScaledLevelsAvx2(Vector256<byte> levels, Vector256<short> scales16, sbyte* a, Vector256<int> sum) =>
        Avx2.Add(sum, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(levels, Avx.LoadVector256(a)), scales16));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ6_KAvx2<TRows>(byte* row, Activation* xs, float* y) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var low = Vector256.Create((byte)0x0F);
        var three = Vector256.Create((byte)3);
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * 210;
            var scales = Avx2.ConvertToVector256Int16((sbyte*)(blk + 192));
            Vector256<int> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int half = 0; half < 2; half++)
            {
                var halfScales = (half == 0 ? scales.GetLower() : scales.GetUpper()).AsByte();
                var bothScales = Vector256.Create(halfScales, halfScales);
                var l0 = Avx.LoadVector256(blk + 64 * half);
                var l1 = Avx.LoadVector256(blk + 64 * half + 32);
                var h = Avx.LoadVector256(blk + 128 + 32 * half);
                for (int t = 0; t < 4; t++)
                {
                    var nibbles = (t & 1) == 0 ? l0 : l1;
                    if (t >= 2) nibbles = Avx2.ShiftRightLogical(nibbles.AsUInt16(), 4).AsByte();
                    var high = Avx2.And(Vector256.ShiftRightLogical(h.AsUInt16(), 2 * t).AsByte(), three);
                    var levels = Avx2.Or(Avx2.And(nibbles, low), Avx2.ShiftLeftLogical(high.AsUInt16(), 4).AsByte());
                    var scales16 = Avx2.Shuffle(bothScales, Vector256.Create(Broadcast16(2 * t), Broadcast16(2 * t + 1))).AsInt16();
                    int at = sb * 256 + 128 * half + 32 * t;
                    sum0 = ScaledLevelsAvx2(levels, scales16, x0.Q + at, sum0);
                    if (TRows.Count > 1)
                    {
                        sum1 = ScaledLevelsAvx2(levels, scales16, x1.Q + at, sum1);
                        sum2 = ScaledLevelsAvx2(levels, scales16, x2.Q + at, sum2);
                        sum3 = ScaledLevelsAvx2(levels, scales16, x3.Q + at, sum3);
                    }
                }
            }
            float d = Half(halves, blk + 208);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(sum0, Q6_KZeroPoints(scales, x0, sb))), Vector256.Create(d * x0.Scale[sb]), acc0);
            if (TRows.Count > 1)
            {
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(sum1, Q6_KZeroPoints(scales, x1, sb))), Vector256.Create(d * x1.Scale[sb]), acc1);
                acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(sum2, Q6_KZeroPoints(scales, x2, sb))), Vector256.Create(d * x2.Scale[sb]), acc2);
                acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(sum3, Q6_KZeroPoints(scales, x3, sb))), Vector256.Create(d * x3.Scale[sb]), acc3);
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, 0f, 0f, 0f, 0f);
    }

    /// <summary>
    /// Two 32-value groups per 512-bit step: groups t and t + 1 of a half read 64 adjacent bytes of low bits and 64
    /// adjacent activations. The half's 32 bytes of high bits are broadcast to both 256-bit halves and one variable
    /// 16-bit shift moves each half's two bits to bits 4–5 (they differ by two between the halves), so one masked
    /// merge completes the levels. The scales multiply in the integer domain (one <c>vpermw</c> gives each 16-value
    /// group's lanes its scale), the zero point 32 comes off the super-block's int32 sums as one <c>vpmaddwd</c> of the
    /// scales against the activations' 16-value level sums, and d·D applies once per super-block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ6_KAvx512<TRows>(byte* row, long rowBytes, int rows, Activation* xs, float* y) where TRows : struct, IRows
    {
        float* halves = BlockQuantization.Halves;
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        for (int r = 0; r < rows; r++, row += rowBytes, y += TRows.Count)
        {
            Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
            var low = Vector512.Create((byte)0x0F);
            var highMask = Vector512.Create((byte)0x30);
            // Groups 0–3 of the low nibbles take high bits 0–1 (lower half) and 2–3 (upper); groups 4–7 bits 4–5 and 6–7.
            var firstShift = Vector512.Create(Vector256.Create((ushort)4), Vector256.Create((ushort)2));
            var secondShift = Vector512.Create(Vector256.Create((ushort)0), Vector256.Create((ushort)2));
            // vpermw indices: lane i of a 64-value step meets 16-value group i / 8 of the step's four.
            Vector512<short> pick0 = GroupIndices(0), pick1 = GroupIndices(4), pick2 = GroupIndices(8), pick3 = GroupIndices(12);
            for (int sb = 0; sb < x0.K / 256; sb++)
            {
                byte* blk = row + sb * 210;
                var scales = Avx2.ConvertToVector256Int16((sbyte*)(blk + 192));
                var wideScales = scales.ToVector512Unsafe();
                Vector512<short> s0 = Avx512BW.PermuteVar32x16(wideScales, pick0), s1 = Avx512BW.PermuteVar32x16(wideScales, pick1);
                Vector512<short> s2 = Avx512BW.PermuteVar32x16(wideScales, pick2), s3 = Avx512BW.PermuteVar32x16(wideScales, pick3);
                var nibbles0 = Avx512F.LoadVector512(blk);
                var nibbles1 = Avx512F.LoadVector512(blk + 64);
                var high0 = BothHalves(blk + 128);
                var high1 = BothHalves(blk + 160);
                var levels0 = (nibbles0 & low) | (Avx512BW.ShiftLeftLogicalVariable(high0, firstShift).AsByte() & highMask);
                var levels1 = (Vector512.ShiftRightLogical(nibbles0.AsUInt16(), 4).AsByte() & low) | (Avx512BW.ShiftRightLogicalVariable(high0, secondShift).AsByte() & highMask);
                var levels2 = (nibbles1 & low) | (Avx512BW.ShiftLeftLogicalVariable(high1, firstShift).AsByte() & highMask);
                var levels3 = (Vector512.ShiftRightLogical(nibbles1.AsUInt16(), 4).AsByte() & low) | (Avx512BW.ShiftRightLogicalVariable(high1, secondShift).AsByte() & highMask);
                float d = Half(halves, blk + 208);
                acc0 = Q6_KSuperBlockAvx512(levels0, levels1, levels2, levels3, s0, s1, s2, s3, scales, d, x0, sb, acc0);
                if (TRows.Count > 1)
                {
                    acc1 = Q6_KSuperBlockAvx512(levels0, levels1, levels2, levels3, s0, s1, s2, s3, scales, d, x1, sb, acc1);
                    acc2 = Q6_KSuperBlockAvx512(levels0, levels1, levels2, levels3, s0, s1, s2, s3, scales, d, x2, sb, acc2);
                    acc3 = Q6_KSuperBlockAvx512(levels0, levels1, levels2, levels3, s0, s1, s2, s3, scales, d, x3, sb, acc3);
                }
            }
            Store<TRows>(y, acc0, acc1, acc2, acc3, 0f, 0f, 0f, 0f);
        }
    }

    /// <summary>A Q6_K super-block's four 64-value steps against one activation row, less the zero points, times d·D, added to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KSuperBlockAvx512(Vector512<byte> levels0, Vector512<byte> levels1, Vector512<byte> levels2, Vector512<byte> levels3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, Vector256<short> scales, float d, in Activation x, int sb, Vector256<float> acc)
    {
        sbyte* a = x.Q + sb * 256;
        var sum = ScaledLevelsAvx512(levels3, s3, a + 192, ScaledLevelsAvx512(levels2, s2, a + 128, ScaledLevelsAvx512(levels1, s1, a + 64, ScaledLevelsAvx512(levels0, s0, a, default))));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(Fold(sum), Q6_KZeroPoints(scales, x, sb))), Vector256.Create(d * x.Scale[sb]), acc);
    }

    /// <summary>32 bytes at <paramref name="p"/> in both 256-bit halves. (<c>Avx512F.BroadcastVector256ToVector512</c> on a pointer read zeros here in .NET 10.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ushort> BothHalves(byte* p)
    {
        var half = Avx.LoadVector256(p).AsUInt16();
        return Vector512.Create(half, half);
    }

    /// <summary><c>vpermw</c> indices for a 64-value step whose first 16-value group is <paramref name="first"/>: lane i takes group first + i / 8.</summary>
    private static Vector512<short> GroupIndices(int first) =>
        Vector512.Create(Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)(first + 1))),
            Vector256.Create(Vector128.Create((short)(first + 2)), Vector128.Create((short)(first + 3))));
}

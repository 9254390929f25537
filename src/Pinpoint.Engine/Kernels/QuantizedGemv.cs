using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// y = beta·y + W·x for one activation row x and a quantized weight matrix W stored [n, k] (rows of blocks): the
/// decode-time product, bound by streaming W once. x is first quantized to 8 bits per 32-value block (scale
/// D = max|x|/127, with the block's sums of q per 16 values), then every weight block meets its activation block
/// as an integer dot product — <c>vpmaddubsw</c> (unsigned weight levels × signed activations) and
/// <c>vpmaddwd</c> — scaled once per block in f32. Q8_0's signed weights go through the sign trick (|w| and
/// sign(w)·x). Zero points (Q4_0's 8, Q6_K's 32) and K-quant minimums come out of the activation sums, so the
/// inner loops only multiply levels. Threads split the rows.
/// </summary>
/// <remarks>
/// The cost of 8-bit activations: each activation carries a rounding error of at most D/2 = max|x|/254 of its
/// block, so a dot product moves by at most Σ|w|·D/2 — about 0.2% of the block's largest activation per weight,
/// averaging out over a row (see README, "Quantized GGUF weights").
/// </remarks>
public static unsafe class QuantizedGemv
{
    /// <summary>
    /// An activation row quantized per 32 values: int8 levels, f32 scales D, sums of levels per 16 values, and what
    /// the 512-bit kernels read as vectors: the sums times D per 16 and per 32 values (zero points and minimums take
    /// them off the dot), and the scales of each pair of blocks spread over 16 lanes (eight each).
    /// </summary>
    internal readonly struct Activation(sbyte* q, float* scale, int* sum16, float* scaledSum16, float* scaledSum32, float* scalePairs, int k)
    {
        public readonly sbyte* Q = q;
        public readonly float* Scale = scale;
        public readonly int* Sum16 = sum16;
        public readonly float* ScaledSum16 = scaledSum16;
        public readonly float* ScaledSum32 = scaledSum32;
        public readonly float* ScalePairs = scalePairs;
        public readonly int K = k;

        public int Sum32(int block) => Sum16[2 * block] + Sum16[2 * block + 1];

        /// <summary>Floats of <see cref="ScalePairs"/> per row: 16 per pair of blocks, a last odd block taking a whole pair.</summary>
        public static long ScalePairFloats(int k) => (k / 32 + 1) / 2 * 16L;

        /// <summary>Row <paramref name="i"/> of rows quantized back to back starting at this one.</summary>
        public Activation Row(int i)
        {
            long offset = (long)i * K;
            return new Activation(Q + offset, Scale + offset / 32, Sum16 + offset / 16, ScaledSum16 + offset / 16, ScaledSum32 + offset / 32, ScalePairs + i * ScalePairFloats(K), K);
        }
    }

    /// <summary>Per-thread activation buffers, grown to the most values seen.</summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? t_current;
        private long _capacity;
        public sbyte* Q;
        public float* Scale, ScaledSum16, ScaledSum32, ScalePairs;
        public int* Sum16;

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
            Sum16 = (int*)Floats(values / 16);
            ScaledSum16 = Floats(values / 16);
            ScaledSum32 = Floats(values / 32);
            // At most 16 floats per 32 values (rows of one block each).
            ScalePairs = Floats(values / 2);
        }

        private static float* Floats(long count) => (float*)NativeMemory.AlignedAlloc((nuint)(count + 16) * sizeof(float), 64);

        private void Free()
        {
            NativeMemory.AlignedFree(Q);
            NativeMemory.AlignedFree(Scale);
            NativeMemory.AlignedFree(Sum16);
            NativeMemory.AlignedFree(ScaledSum16);
            NativeMemory.AlignedFree(ScaledSum32);
            NativeMemory.AlignedFree(ScalePairs);
        }

        ~Buffers() => Free();
    }

    /// <summary>
    /// <paramref name="m"/> rows of <paramref name="k"/> activations (a multiple of 32), <paramref name="lda"/> apart,
    /// quantized into this thread's buffers; row i's levels start at i·k.
    /// </summary>
    internal static Activation QuantizeRows(float* a, int lda, int m, int k)
    {
        var b = Buffers.For((long)m * k);
        var first = new Activation(b.Q, b.Scale, b.Sum16, b.ScaledSum16, b.ScaledSum32, b.ScalePairs, k);
        var rows = new RowsJob { A = a, Lda = lda, Rows = m, First = first };
        // Rounding costs about as much as a dot product of the row against 2 weight rows: worth threads only for many rows.
        int tasks = m < 64 ? 1 : Math.Min(m, 4 * WorkerPool.Concurrency);
        rows.PerTask = (m + tasks - 1) / tasks;
        WorkerPool.ParallelFor((m + rows.PerTask - 1) / rows.PerTask, rows, static (j, t) =>
        {
            int end = Math.Min((t + 1) * j.PerTask, j.Rows);
            for (int i = t * j.PerTask; i < end; i++) QuantizeRow(j.A + (long)i * j.Lda, j.First.Row(i));
        });
        return first;
    }

    private struct RowsJob
    {
        public float* A;
        public Activation First;
        public int Lda, PerTask, Rows;
    }

    /// <summary>One row: per 32 values D = max|x|/127 and levels round(x/D), with the sums of levels per 16.</summary>
    private static void QuantizeRow(float* x, in Activation row)
    {
        for (int blk = 0; blk < row.K / BlockQuantization.QK; blk++)
        {
            float* xb = x + blk * BlockQuantization.QK;
            sbyte* qb = row.Q + blk * BlockQuantization.QK;
            float amax = 0f;
            for (int j = 0; j < BlockQuantization.QK; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float id = amax > 0f ? 127f / amax : 0f, d = amax / 127f;
            row.Scale[blk] = d;
            for (int half = 0; half < 2; half++)
            {
                int sum = 0;
                for (int j = 16 * half; j < 16 * half + 16; j++)
                {
                    int level = (int)MathF.Round(xb[j] * id);
                    qb[j] = (sbyte)level;
                    sum += level;
                }
                row.Sum16[2 * blk + half] = sum;
                row.ScaledSum16[2 * blk + half] = d * sum;
            }
            row.ScaledSum32[blk] = d * row.Sum32(blk);
            // Block 2p + h fills lanes 8h..8h+7 of pair p.
            new Span<float>(row.ScalePairs + blk / 2 * 16 + blk % 2 * 8, 8).Fill(d);
        }
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
        var job = new Job { Path = path, Type = type, N = n, RowBytes = rowBytes, W = w, Y = y, Beta = beta, X = QuantizeRows(x, k, 1, k) };
        int threads = WorkerPool.Concurrency;
        int tasks = (long)n * k < (1 << 18) || threads == 1 ? 1 : Math.Min(threads * 8, (n + 15) / 16);
        job.PerTask = (n + tasks - 1) / tasks;
        tasks = (n + job.PerTask - 1) / job.PerTask;
        WorkerPool.ParallelFor(tasks, job, static (j, t) =>
        {
            int r1 = Math.Min(j.N, (t + 1) * j.PerTask);
            var x = j.X;
            float dot;
            for (int r = t * j.PerTask; r < r1; r++)
            {
                Dot<OneRow>(j.Path, j.Type, j.W + r * j.RowBytes, &x, &dot);
                j.Y[r] = j.Beta == 0f ? dot : dot + j.Beta * j.Y[r];
            }
        });
    }

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

    /// <summary>One weight row (k values of <paramref name="type"/>) · each of <typeparamref name="TRows"/>'s activation rows at <paramref name="x"/>, into <paramref name="y"/>.</summary>
    internal static void Dot<TRows>(KernelPath path, DType type, byte* row, Activation* x, float* y) where TRows : struct, IRows
    {
        // The integer dot products need 256-bit byte multiply-adds; the 128-bit path runs the scalar integer code.
        if (path < KernelPath.Avx2)
        {
            for (int i = 0; i < TRows.Count; i++) y[i] = DotScalar(type, row, x[i]);
            return;
        }
        bool wide = path == KernelPath.Avx512;
        switch (type)
        {
            case DType.Q8_0: if (wide) DotQ8_0Avx512<TRows>(row, x, y); else DotQ8_0Avx2<TRows>(row, x, y); break;
            case DType.Q4_0: DotQ4_0Avx2<TRows>(row, x, y); break;
            case DType.Q4_K: if (wide) DotKWithMinsAvx512<TRows>(row, x, y, fifthBit: false); else DotKWithMinsAvx2<TRows>(row, x, y, fifthBit: false); break;
            case DType.Q5_K: if (wide) DotKWithMinsAvx512<TRows>(row, x, y, fifthBit: true); else DotKWithMinsAvx2<TRows>(row, x, y, fifthBit: true); break;
            case DType.Q6_K: if (wide) DotQ6_KAvx512<TRows>(row, x, y); else DotQ6_KAvx2<TRows>(row, x, y); break;
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

    private static readonly Vector256<short> Ones16 = Vector256.Create((short)1);

    /// <summary>Eight int32 partial sums of u·s over 32 byte pairs (u unsigned levels, s signed activations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> DotBytes(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Ones16);

    private static Vector256<sbyte> LoadActivation(in Activation x, int block) => Avx.LoadVector256(x.Q + block * 32);

    private static readonly Vector512<short> Ones16x32 = Vector512.Create((short)1);

    /// <summary>Sixteen int32 partial sums of u·s over 64 byte pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> DotBytes(Vector512<byte> u, Vector512<sbyte> s) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, s), Ones16x32);

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
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = firstBlock; b < x0.K / 32; b++)
        {
            byte* blk = row + b * 34;
            var w = Avx.LoadVector256((sbyte*)(blk + 2));
            float d = BlockQuantization.Half(blk);
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
    private static void DotQ8_0Avx512<TRows>(byte* row, Activation* xs, float* y) where TRows : struct, IRows
    {
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int blocks = x0.K / 32, b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            byte* blk = row + b * 34;
            var w = Vector512.Create(Avx.LoadVector256((sbyte*)(blk + 2)), Avx.LoadVector256((sbyte*)(blk + 36)));
            var absW = Vector512.Abs(w).AsByte();
            var negative = Vector512.LessThan(w, Vector512<sbyte>.Zero);
            var scales = HalfScales(BlockQuantization.Half(blk), BlockQuantization.Half(blk + 34));
            acc0 = Q8_0PairAvx512(absW, negative, scales, x0, b, acc0);
            if (TRows.Count > 1)
            {
                acc1 = Q8_0PairAvx512(absW, negative, scales, x1, b, acc1);
                acc2 = Q8_0PairAvx512(absW, negative, scales, x2, b, acc2);
                acc3 = Q8_0PairAvx512(absW, negative, scales, x3, b, acc3);
            }
        }
        float* last = stackalloc float[4] { 0f, 0f, 0f, 0f };
        if (b < blocks) DotQ8_0Avx2<TRows>(row, xs, last, b);
        Store<TRows>(y, acc0, acc1, acc2, acc3, -last[0], -last[1], -last[2], -last[3]);
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
            sum += BlockQuantization.Half(blk) * x.Scale[b] * (dot - 8 * x.Sum32(b));
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
            float d = BlockQuantization.Half(blk);
            acc0 = LevelsBlockAvx2(levels, d * x0.Scale[b], x0, b, acc0);
            off0 += d * x0.Scale[b] * 8 * x0.Sum32(b);
            if (TRows.Count > 1)
            {
                acc1 = LevelsBlockAvx2(levels, d * x1.Scale[b], x1, b, acc1);
                off1 += d * x1.Scale[b] * 8 * x1.Sum32(b);
                acc2 = LevelsBlockAvx2(levels, d * x2.Scale[b], x2, b, acc2);
                off2 += d * x2.Scale[b] * 8 * x2.Sum32(b);
                acc3 = LevelsBlockAvx2(levels, d * x3.Scale[b], x3, b, acc3);
                off3 += d * x3.Scale[b] * 8 * x3.Sum32(b);
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, off0, off1, off2, off3);
    }

    // ---- Q4_K / Q5_K: x = d·scale_j·q − dmin·min_j per 32-value pair j ----

    private static float DotKWithMinsScalar(byte* row, in Activation x, bool fifthBit)
    {
        int blockBytes = fifthBit ? 176 : 144;
        float sum = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qh = blk + 16, qs = blk + (fifthBit ? 48 : 16);
            float d = BlockQuantization.Half(blk), dmin = BlockQuantization.Half(blk + 2);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = BlockQuantization.ScaleMin(blk + 4, j);
                int ab = sb * 8 + j, shift = (j & 1) * 4;
                sbyte* a = x.Q + ab * 32;
                byte* q = qs + 32 * (j / 2);
                int dot = 0;
                for (int l = 0; l < 32; l++)
                {
                    int level = (q[l] >> shift) & 0x0F;
                    if (fifthBit) level |= ((qh[l] >> j) & 1) << 4;
                    dot += level * a[l];
                }
                sum += x.Scale[ab] * (d * sc * dot - dmin * m * x.Sum32(ab));
            }
        }
        return sum;
    }

    /// <summary>A chunk's two pairs: their level scales d·scale and minimum offsets dmin·min.</summary>
    private readonly struct ChunkScales
    {
        public readonly float Scale1, Scale2, Min1, Min2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ChunkScales(byte* blk, int chunk, float d, float dmin)
        {
            var (sc1, m1) = BlockQuantization.ScaleMin(blk + 4, 2 * chunk);
            var (sc2, m2) = BlockQuantization.ScaleMin(blk + 4, 2 * chunk + 1);
            Scale1 = d * sc1;
            Scale2 = d * sc2;
            Min1 = dmin * m1;
            Min2 = dmin * m2;
        }

        /// <summary>What the minimums take off the dot with activation blocks <paramref name="ab"/> and <paramref name="ab"/> + 1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Offset(in Activation x, int ab) => Min1 * x.Scale[ab] * x.Sum32(ab) + Min2 * x.Scale[ab + 1] * x.Sum32(ab + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> KChunkAvx2(Vector256<byte> lo, Vector256<byte> hi, in ChunkScales s, in Activation x, int ab, Vector256<float> acc) =>
        LevelsBlockAvx2(hi, s.Scale2 * x.Scale[ab + 1], x, ab + 1, LevelsBlockAvx2(lo, s.Scale1 * x.Scale[ab], x, ab, acc));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotKWithMinsAvx2<TRows>(byte* row, Activation* xs, float* y, bool fifthBit) where TRows : struct, IRows
    {
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float mins0 = 0f, mins1 = 0f, mins2 = 0f, mins3 = 0f;
        int blockBytes = fifthBit ? 176 : 144;
        var low = Vector256.Create((byte)0x0F);
        var one = Vector256.Create((byte)1);
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qs = blk + (fifthBit ? 48 : 16);
            float d = BlockQuantization.Half(blk), dmin = BlockQuantization.Half(blk + 2);
            var qh = fifthBit ? Avx.LoadVector256(blk + 16) : default;
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
                int ab = sb * 8 + 2 * chunk;
                var scales = new ChunkScales(blk, chunk, d, dmin);
                acc0 = KChunkAvx2(lo, hi, scales, x0, ab, acc0);
                mins0 += scales.Offset(x0, ab);
                if (TRows.Count > 1)
                {
                    acc1 = KChunkAvx2(lo, hi, scales, x1, ab, acc1);
                    mins1 += scales.Offset(x1, ab);
                    acc2 = KChunkAvx2(lo, hi, scales, x2, ab, acc2);
                    mins2 += scales.Offset(x2, ab);
                    acc3 = KChunkAvx2(lo, hi, scales, x3, ab, acc3);
                    mins3 += scales.Offset(x3, ab);
                }
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, mins0, mins1, mins2, mins3);
    }

    /// <summary>
    /// 64 levels (two activation blocks) against one activation row: <c>vpmaddwd</c> multiplies the byte-pair sums by
    /// the weights' integer scales (one per 16 lanes) instead of ones, so the f32 step only applies the activation scales.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaledLevelsPairAvx512(Vector512<byte> levels, Vector512<short> scales16, in Activation x, int ab, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, LoadActivationPair(x, ab)), scales16)),
            ActivationScalePair(x, ab), acc);

    /// <summary>
    /// One 32-byte chunk (two 32-value pairs: low nibbles, then high nibbles) per 512-bit step, so the two pairs'
    /// activation blocks are adjacent and load as one vector. The 6-bit scales multiply in the integer domain and d
    /// once per super-block; the minimums meet the activations' scaled sums as one 8-lane product per super-block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotKWithMinsAvx512<TRows>(byte* row, Activation* xs, float* y, bool fifthBit) where TRows : struct, IRows
    {
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector256<float> mins0 = default, mins1 = default, mins2 = default, mins3 = default;
        int blockBytes = fifthBit ? 176 : 144;
        var low = Vector512.Create((byte)0x0F);
        var one = Vector512.Create((byte)1);
        short* scales = stackalloc short[8];
        float* mins = stackalloc float[8];
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qs = blk + (fifthBit ? 48 : 16);
            float d = BlockQuantization.Half(blk), dmin = BlockQuantization.Half(blk + 2);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = BlockQuantization.ScaleMin(blk + 4, j);
                scales[j] = (short)sc;
                mins[j] = dmin * m;
            }
            // Upper half pre-shifted by one: after shifting both by 2·chunk, bit 0 of each byte is the fifth bit of
            // pair 2·chunk (lower half) and 2·chunk + 1 (upper half).
            var qh = fifthBit ? Avx.LoadVector256(blk + 16) : default;
            var qhPairs = fifthBit ? Vector512.Create(qh, Vector256.ShiftRightLogical(qh.AsUInt16(), 1).AsByte()) : default;
            Vector512<float> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int chunk = 0; chunk < 4; chunk++)
            {
                var packed = Avx.LoadVector256(qs + 32 * chunk);
                var levels = Vector512.Create(packed, Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & low;
                if (fifthBit)
                    levels |= Vector512.ShiftLeft((Vector512.ShiftRightLogical(qhPairs.AsUInt16(), 2 * chunk).AsByte() & one).AsUInt16(), 4).AsByte();
                int ab = sb * 8 + 2 * chunk;
                var scales16 = Vector512.Create(Vector256.Create(scales[2 * chunk]), Vector256.Create(scales[2 * chunk + 1]));
                sum0 = ScaledLevelsPairAvx512(levels, scales16, x0, ab, sum0);
                if (TRows.Count > 1)
                {
                    sum1 = ScaledLevelsPairAvx512(levels, scales16, x1, ab, sum1);
                    sum2 = ScaledLevelsPairAvx512(levels, scales16, x2, ab, sum2);
                    sum3 = ScaledLevelsPairAvx512(levels, scales16, x3, ab, sum3);
                }
            }
            var dv = Vector512.Create(d);
            var minsv = Avx.LoadVector256(mins);
            acc0 = Avx512F.FusedMultiplyAdd(sum0, dv, acc0);
            mins0 = Fma.MultiplyAdd(minsv, Avx.LoadVector256(x0.ScaledSum32 + sb * 8), mins0);
            if (TRows.Count > 1)
            {
                acc1 = Avx512F.FusedMultiplyAdd(sum1, dv, acc1);
                mins1 = Fma.MultiplyAdd(minsv, Avx.LoadVector256(x1.ScaledSum32 + sb * 8), mins1);
                acc2 = Avx512F.FusedMultiplyAdd(sum2, dv, acc2);
                mins2 = Fma.MultiplyAdd(minsv, Avx.LoadVector256(x2.ScaledSum32 + sb * 8), mins2);
                acc3 = Avx512F.FusedMultiplyAdd(sum3, dv, acc3);
                mins3 = Fma.MultiplyAdd(minsv, Avx.LoadVector256(x3.ScaledSum32 + sb * 8), mins3);
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, Vector256.Sum(mins0), Vector256.Sum(mins1), Vector256.Sum(mins2), Vector256.Sum(mins3));
    }

    // ---- Q6_K: x = d·scale_i·(q − 32), one scale per 16 values ----

    private static float DotQ6_KScalar(byte* row, in Activation x)
    {
        float sum = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * 210, ql = blk, qh = blk + 128;
            sbyte* scales = (sbyte*)(blk + 192);
            float d = BlockQuantization.Half(blk + 208);
            for (int half = 0; half < 2; half++)
            for (int t = 0; t < 4; t++)
            {
                int ab = sb * 8 + half * 4 + t;
                sbyte* a = x.Q + ab * 32;
                byte* l4 = ql + 64 * half + (t & 1) * 32, h = qh + 32 * half;
                int shift = t < 2 ? 0 : 4;
                for (int g = 0; g < 2; g++)
                {
                    int dot = 0;
                    for (int l = 16 * g; l < 16 * g + 16; l++)
                        dot += (((l4[l] >> shift) & 0x0F) | (((h[l] >> (2 * t)) & 3) << 4)) * a[l];
                    sum += d * scales[8 * half + 2 * t + g] * x.Scale[ab] * (dot - 32 * x.Sum16[2 * ab + g]);
                }
            }
        }
        return sum;
    }

    /// <summary>What Q6_K's zero point 32 takes off the dot with activation block <paramref name="ab"/> (16-value scales s0, s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Q6_KOffset(in Activation x, int ab, float d, int s0, int s1) =>
        d * x.Scale[ab] * 32 * (s0 * x.Sum16[2 * ab] + s1 * x.Sum16[2 * ab + 1]);

    /// <summary>Levels with their 16-value scales folded in by <c>vpmaddwd</c>, then the block scale d·D in f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KBlockAvx2(Vector256<byte> levels, Vector256<short> scales16, float d, in Activation x, int ab, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(levels, LoadActivation(x, ab)), scales16)),
            Vector256.Create(d * x.Scale[ab]), acc);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ6_KAvx2<TRows>(byte* row, Activation* xs, float* y) where TRows : struct, IRows
    {
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float off0 = 0f, off1 = 0f, off2 = 0f, off3 = 0f;
        var low = Vector256.Create((byte)0x0F);
        var two = Vector256.Create((byte)3);
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * 210;
            sbyte* scales = (sbyte*)(blk + 192);
            float d = BlockQuantization.Half(blk + 208);
            for (int half = 0; half < 2; half++)
            {
                var l0 = Avx.LoadVector256(blk + 64 * half);
                var l1 = Avx.LoadVector256(blk + 64 * half + 32);
                var h = Avx.LoadVector256(blk + 128 + 32 * half);
                for (int t = 0; t < 4; t++)
                {
                    var nibbles = (t & 1) == 0 ? l0 : l1;
                    if (t >= 2) nibbles = Avx2.ShiftRightLogical(nibbles.AsUInt16(), 4).AsByte();
                    var high = Avx2.And(Vector256.ShiftRightLogical(h.AsUInt16(), 2 * t).AsByte(), two);
                    var levels = Avx2.Or(Avx2.And(nibbles, low), Avx2.ShiftLeftLogical(high.AsUInt16(), 4).AsByte());
                    int ab = sb * 8 + half * 4 + t;
                    int s0 = scales[8 * half + 2 * t], s1 = scales[8 * half + 2 * t + 1];
                    var scales16 = Vector256.Create(Vector128.Create((short)s0), Vector128.Create((short)s1));
                    acc0 = Q6_KBlockAvx2(levels, scales16, d, x0, ab, acc0);
                    off0 += Q6_KOffset(x0, ab, d, s0, s1);
                    if (TRows.Count > 1)
                    {
                        acc1 = Q6_KBlockAvx2(levels, scales16, d, x1, ab, acc1);
                        off1 += Q6_KOffset(x1, ab, d, s0, s1);
                        acc2 = Q6_KBlockAvx2(levels, scales16, d, x2, ab, acc2);
                        off2 += Q6_KOffset(x2, ab, d, s0, s1);
                        acc3 = Q6_KBlockAvx2(levels, scales16, d, x3, ab, acc3);
                        off3 += Q6_KOffset(x3, ab, d, s0, s1);
                    }
                }
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, off0, off1, off2, off3);
    }

    /// <summary>
    /// Two 32-value groups per 512-bit step: groups t and t + 1 of a half read 64 adjacent bytes of low bits and
    /// adjacent activation blocks; the high bits' upper half is pre-shifted by two so one shift serves both. d applies
    /// once per super-block, and the zero point 32 meets the activations' scaled 16-value sums as one 16-lane product.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotQ6_KAvx512<TRows>(byte* row, Activation* xs, float* y) where TRows : struct, IRows
    {
        Activation x0 = xs[0], x1 = RowOf<TRows>(xs, 1), x2 = RowOf<TRows>(xs, 2), x3 = RowOf<TRows>(xs, 3);
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var low = Vector512.Create((byte)0x0F);
        var three = Vector512.Create((byte)3);
        for (int sb = 0; sb < x0.K / 256; sb++)
        {
            byte* blk = row + sb * 210;
            sbyte* scales = (sbyte*)(blk + 192);
            float d = BlockQuantization.Half(blk + 208);
            Vector512<float> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int half = 0; half < 2; half++)
            {
                var nibbles = Avx512F.LoadVector512(blk + 64 * half);
                var h = Avx.LoadVector256(blk + 128 + 32 * half);
                var highBits = Vector512.Create(h, Vector256.ShiftRightLogical(h.AsUInt16(), 2).AsByte());
                for (int t = 0; t < 4; t += 2)
                {
                    var lowBits = t == 0 ? nibbles & low : Vector512.ShiftRightLogical(nibbles.AsUInt16(), 4).AsByte() & low;
                    var high = Vector512.ShiftRightLogical(highBits.AsUInt16(), 2 * t).AsByte() & three;
                    var levels = lowBits | Vector512.ShiftLeft(high.AsUInt16(), 4).AsByte();
                    int ab = sb * 8 + half * 4 + t;
                    sbyte* s = scales + 8 * half + 2 * t;
                    var scales16 = Vector512.Create(
                        Vector256.Create(Vector128.Create((short)s[0]), Vector128.Create((short)s[1])), Vector256.Create(Vector128.Create((short)s[2]), Vector128.Create((short)s[3])));
                    sum0 = ScaledLevelsPairAvx512(levels, scales16, x0, ab, sum0);
                    if (TRows.Count > 1)
                    {
                        sum1 = ScaledLevelsPairAvx512(levels, scales16, x1, ab, sum1);
                        sum2 = ScaledLevelsPairAvx512(levels, scales16, x2, ab, sum2);
                        sum3 = ScaledLevelsPairAvx512(levels, scales16, x3, ab, sum3);
                    }
                }
            }
            // Σ_g 32·scale_g·(D·sum16)_g over the super-block's 16 groups, taken off the level sums before d.
            var zeroPoints = Vector512.Create(32f) * Avx512F.ConvertToVector512Single(Avx512BW.ConvertToVector512Int32(Sse2.LoadVector128(scales)));
            var dv = Vector512.Create(d);
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAddNegated(zeroPoints, Avx512F.LoadVector512(x0.ScaledSum16 + sb * 16), sum0), dv, acc0);
            if (TRows.Count > 1)
            {
                acc1 = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAddNegated(zeroPoints, Avx512F.LoadVector512(x1.ScaledSum16 + sb * 16), sum1), dv, acc1);
                acc2 = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAddNegated(zeroPoints, Avx512F.LoadVector512(x2.ScaledSum16 + sb * 16), sum2), dv, acc2);
                acc3 = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAddNegated(zeroPoints, Avx512F.LoadVector512(x3.ScaledSum16 + sb * 16), sum3), dv, acc3);
            }
        }
        Store<TRows>(y, acc0, acc1, acc2, acc3, 0f, 0f, 0f, 0f);
    }
}

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
    /// <summary>An activation row quantized per 32 values: int8 levels, f32 scales, sums of levels per 16 values.</summary>
    internal readonly struct Activation(sbyte* q, float* scale, int* sum16, int k)
    {
        public readonly sbyte* Q = q;
        public readonly float* Scale = scale;
        public readonly int* Sum16 = sum16;
        public readonly int K = k;

        public int Sum32(int block) => Sum16[2 * block] + Sum16[2 * block + 1];
    }

    /// <summary>Per-thread activation buffers, grown to the longest row seen.</summary>
    private sealed class Buffers
    {
        [ThreadStatic] private static Buffers? t_current;
        private int _capacity;
        public sbyte* Q;
        public float* Scale;
        public int* Sum16;

        public static Buffers For(int k)
        {
            var b = t_current ??= new Buffers();
            if (b._capacity < k) b.Grow(k);
            return b;
        }

        private void Grow(int k)
        {
            Free();
            _capacity = k;
            Q = (sbyte*)NativeMemory.AlignedAlloc((nuint)k, 64);
            Scale = (float*)NativeMemory.AlignedAlloc((nuint)(k / BlockQuantization.QK + 1) * sizeof(float), 64);
            Sum16 = (int*)NativeMemory.AlignedAlloc((nuint)(k / 16 + 1) * sizeof(int), 64);
        }

        private void Free()
        {
            NativeMemory.AlignedFree(Q);
            NativeMemory.AlignedFree(Scale);
            NativeMemory.AlignedFree(Sum16);
        }

        ~Buffers() => Free();
    }

    /// <summary>Quantizes <paramref name="k"/> activations (a multiple of 32) into this thread's buffers.</summary>
    internal static Activation QuantizeActivation(float* x, int k)
    {
        var b = Buffers.For(k);
        for (int blk = 0; blk < k / BlockQuantization.QK; blk++)
        {
            float* xb = x + blk * BlockQuantization.QK;
            sbyte* q = b.Q + blk * BlockQuantization.QK;
            float amax = 0f;
            for (int j = 0; j < BlockQuantization.QK; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f, id = amax > 0f ? 127f / amax : 0f;
            b.Scale[blk] = d;
            for (int half = 0; half < 2; half++)
            {
                int sum = 0;
                for (int j = 16 * half; j < 16 * half + 16; j++)
                {
                    int level = (int)MathF.Round(xb[j] * id);
                    q[j] = (sbyte)level;
                    sum += level;
                }
                b.Sum16[2 * blk + half] = sum;
            }
        }
        return new Activation(b.Q, b.Scale, b.Sum16, k);
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
        if (!type.IsQuantized()) throw new ArgumentException($"{type} is not a quantized type", nameof(type));
        if (k % type.BlockElements() != 0) throw new ArgumentException($"rows of {k} values are not a whole number of {type} blocks");
        if (n == 0) return;
        var job = new Job { Path = path, Type = type, N = n, RowBytes = rowBytes, W = w, Y = y, Beta = beta, X = QuantizeActivation(x, k) };
        int threads = WorkerPool.Concurrency;
        int tasks = (long)n * k < (1 << 18) || threads == 1 ? 1 : Math.Min(threads * 8, (n + 15) / 16);
        job.PerTask = (n + tasks - 1) / tasks;
        tasks = (n + job.PerTask - 1) / job.PerTask;
        WorkerPool.ParallelFor(tasks, job, static (j, t) =>
        {
            int r1 = Math.Min(j.N, (t + 1) * j.PerTask);
            for (int r = t * j.PerTask; r < r1; r++)
            {
                float dot = Dot(j.Path, j.Type, j.W + r * j.RowBytes, j.X);
                j.Y[r] = j.Beta == 0f ? dot : dot + j.Beta * j.Y[r];
            }
        });
    }

    /// <summary>One weight row (k values of <paramref name="type"/>) · the quantized activation.</summary>
    internal static float Dot(KernelPath path, DType type, byte* row, in Activation x)
    {
        // The integer dot products need 256-bit byte multiply-adds; the 128-bit path runs the scalar integer code.
        bool vector = path >= KernelPath.Avx2;
        return type switch
        {
            DType.Q8_0 => path == KernelPath.Avx512 ? DotQ8_0Avx512(row, x) : vector ? DotQ8_0Avx2(row, x) : DotQ8_0Scalar(row, x),
            DType.Q4_0 => vector ? DotQ4_0Avx2(row, x) : DotQ4_0Scalar(row, x),
            DType.Q4_K => path == KernelPath.Avx512 ? DotKWithMinsAvx512(row, x, fifthBit: false)
                : vector ? DotKWithMinsAvx2(row, x, fifthBit: false) : DotKWithMinsScalar(row, x, fifthBit: false),
            DType.Q5_K => path == KernelPath.Avx512 ? DotKWithMinsAvx512(row, x, fifthBit: true)
                : vector ? DotKWithMinsAvx2(row, x, fifthBit: true) : DotKWithMinsScalar(row, x, fifthBit: true),
            DType.Q6_K => path == KernelPath.Avx512 ? DotQ6_KAvx512(row, x) : vector ? DotQ6_KAvx2(row, x) : DotQ6_KScalar(row, x),
            _ => throw new ArgumentException($"{type} is not a quantized type", nameof(type)),
        };
    }

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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotQ8_0Avx2(byte* row, in Activation x)
    {
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < x.K / 32; b++)
        {
            byte* blk = row + b * 34;
            var w = Avx.LoadVector256((sbyte*)(blk + 2));
            var dot = DotBytes(Avx2.Sign(w, w).AsByte(), Avx2.Sign(LoadActivation(x, b), w));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(BlockQuantization.Half(blk) * x.Scale[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Two blocks per 512-bit step; AVX-512 has no byte sign instruction, so sign(w)·x is a masked negate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotQ8_0Avx512(byte* row, in Activation x)
    {
        var acc = Vector512<float>.Zero;
        var ones = Vector512.Create((short)1);
        int blocks = x.K / 32, b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            byte* blk = row + b * 34;
            var w = Vector512.Create(Avx.LoadVector256((sbyte*)(blk + 2)), Avx.LoadVector256((sbyte*)(blk + 36)));
            var a = Avx512F.LoadVector512(x.Q + b * 32);
            var signed = Vector512.ConditionalSelect(Vector512.LessThan(w, Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - a, a);
            var dot = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Abs(w).AsByte(), signed), ones);
            var scale = Vector512.Create(Vector256.Create(BlockQuantization.Half(blk) * x.Scale[b]), Vector256.Create(BlockQuantization.Half(blk + 34) * x.Scale[b + 1]));
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot), scale, acc);
        }
        float sum = Vector512.Sum(acc);
        for (; b < blocks; b++)
        {
            byte* blk = row + b * 34;
            var w = Avx.LoadVector256((sbyte*)(blk + 2));
            var dot = DotBytes(Avx2.Sign(w, w).AsByte(), Avx2.Sign(LoadActivation(x, b), w));
            sum += Vector256.Sum(dot) * BlockQuantization.Half(blk) * x.Scale[b];
        }
        return sum;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotQ4_0Avx2(byte* row, in Activation x)
    {
        var acc = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        float offsets = 0f;
        for (int b = 0; b < x.K / 32; b++)
        {
            byte* blk = row + b * 18;
            var packed = Sse2.LoadVector128(blk + 2);
            // Low nibbles are values 0–15, high nibbles 16–31: one 256-bit vector of levels in value order.
            var levels = Avx2.And(Vector256.Create(packed, Sse2.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()), low);
            float scale = BlockQuantization.Half(blk) * x.Scale[b];
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotBytes(levels, LoadActivation(x, b))), Vector256.Create(scale), acc);
            offsets += scale * 8 * x.Sum32(b);
        }
        return Vector256.Sum(acc) - offsets;
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

    /// <summary>
    /// The scales of chunk <paramref name="chunk"/>'s two pairs (activation blocks <paramref name="ab"/> and
    /// <paramref name="ab"/> + 1) for their level dots, and what their minimums take off the row's dot.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ChunkScales(byte* blk, in Activation x, int chunk, int ab, float d, float dmin, out float scale1, out float scale2)
    {
        var (sc1, m1) = BlockQuantization.ScaleMin(blk + 4, 2 * chunk);
        var (sc2, m2) = BlockQuantization.ScaleMin(blk + 4, 2 * chunk + 1);
        scale1 = d * sc1 * x.Scale[ab];
        scale2 = d * sc2 * x.Scale[ab + 1];
        return dmin * (m1 * x.Scale[ab] * x.Sum32(ab) + m2 * x.Scale[ab + 1] * x.Sum32(ab + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotKWithMinsAvx2(byte* row, in Activation x, bool fifthBit)
    {
        int blockBytes = fifthBit ? 176 : 144;
        var acc = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        var one = Vector256.Create((byte)1);
        float mins = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
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
                mins += ChunkScales(blk, x, chunk, ab, d, dmin, out float scale1, out float scale2);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotBytes(lo, LoadActivation(x, ab))), Vector256.Create(scale1), acc);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(DotBytes(hi, LoadActivation(x, ab + 1))), Vector256.Create(scale2), acc);
            }
        }
        return Vector256.Sum(acc) - mins;
    }

    /// <summary>
    /// One 32-byte chunk (two 32-value pairs: low nibbles, then high nibbles) per 512-bit step, so the two pairs'
    /// activation blocks are adjacent and load as one vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotKWithMinsAvx512(byte* row, in Activation x, bool fifthBit)
    {
        int blockBytes = fifthBit ? 176 : 144;
        var acc = Vector512<float>.Zero;
        var low = Vector512.Create((byte)0x0F);
        var one = Vector512.Create((byte)1);
        float mins = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * blockBytes, qs = blk + (fifthBit ? 48 : 16);
            float d = BlockQuantization.Half(blk), dmin = BlockQuantization.Half(blk + 2);
            // Upper half pre-shifted by one: after shifting both by 2·chunk, bit 0 of each byte is the fifth bit of
            // pair 2·chunk (lower half) and 2·chunk + 1 (upper half).
            var qh = fifthBit ? Avx.LoadVector256(blk + 16) : default;
            var qhPairs = fifthBit ? Vector512.Create(qh, Vector256.ShiftRightLogical(qh.AsUInt16(), 1).AsByte()) : default;
            for (int chunk = 0; chunk < 4; chunk++)
            {
                var packed = Avx.LoadVector256(qs + 32 * chunk);
                var levels = Vector512.Create(packed, Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte()) & low;
                if (fifthBit)
                    levels |= Vector512.ShiftLeft((Vector512.ShiftRightLogical(qhPairs.AsUInt16(), 2 * chunk).AsByte() & one).AsUInt16(), 4).AsByte();
                int ab = sb * 8 + 2 * chunk;
                mins += ChunkScales(blk, x, chunk, ab, d, dmin, out float scale1, out float scale2);
                acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(DotBytes(levels, LoadActivationPair(x, ab))), HalfScales(scale1, scale2), acc);
            }
        }
        return Vector512.Sum(acc) - mins;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotQ6_KAvx2(byte* row, in Activation x)
    {
        var acc = Vector256<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        var two = Vector256.Create((byte)3);
        float offsets = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
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
                    // Pair sums weighted by the two 16-value scales in one vpmaddwd.
                    var weights = Vector256.Create(Vector128.Create((short)s0), Vector128.Create((short)s1));
                    var dot = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(levels, LoadActivation(x, ab)), weights);
                    float scale = d * x.Scale[ab];
                    acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(scale), acc);
                    offsets += scale * 32 * (s0 * x.Sum16[2 * ab] + s1 * x.Sum16[2 * ab + 1]);
                }
            }
        }
        return Vector256.Sum(acc) - offsets;
    }

    /// <summary>
    /// Two 32-value groups per 512-bit step: groups t and t + 1 of a half read 64 adjacent bytes of low bits and
    /// adjacent activation blocks; the high bits' upper half is pre-shifted by two so one shift serves both.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotQ6_KAvx512(byte* row, in Activation x)
    {
        var acc = Vector512<float>.Zero;
        var low = Vector512.Create((byte)0x0F);
        var three = Vector512.Create((byte)3);
        float offsets = 0f;
        for (int sb = 0; sb < x.K / 256; sb++)
        {
            byte* blk = row + sb * 210;
            sbyte* scales = (sbyte*)(blk + 192);
            float d = BlockQuantization.Half(blk + 208);
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
                    int ab = sb * 8 + half * 4 + t, si = 8 * half + 2 * t;
                    int s0 = scales[si], s1 = scales[si + 1], s2 = scales[si + 2], s3 = scales[si + 3];
                    var weights = Vector512.Create(
                        Vector256.Create(Vector128.Create((short)s0), Vector128.Create((short)s1)), Vector256.Create(Vector128.Create((short)s2), Vector128.Create((short)s3)));
                    var dot = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, LoadActivationPair(x, ab)), weights);
                    float scale0 = d * x.Scale[ab], scale1 = d * x.Scale[ab + 1];
                    acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(dot), HalfScales(scale0, scale1), acc);
                    offsets += scale0 * 32 * (s0 * x.Sum16[2 * ab] + s1 * x.Sum16[2 * ab + 1])
                        + scale1 * 32 * (s2 * x.Sum16[2 * ab + 2] + s3 * x.Sum16[2 * ab + 3]);
                }
            }
        }
        return Vector512.Sum(acc) - offsets;
    }
}

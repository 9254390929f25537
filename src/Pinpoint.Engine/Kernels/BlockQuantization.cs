using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// ggml's weight block formats: decoding (dequantization, the reference every quantized kernel is checked
/// against) and encoding (the quantizer the GGUF writer uses). Each block covers consecutive values of a row:
/// <list type="bullet">
/// <item>Q8_0 (32 values, 34 bytes): f16 scale d, 32 int8 q; x = d·q.</item>
/// <item>Q4_0 (32 values, 18 bytes): f16 d, 16 bytes whose low nibbles are values 0–15 and high nibbles values
/// 16–31; x = d·(q − 8).</item>
/// <item>Q4_K (256 values, 144 bytes): f16 d, f16 dmin, 12 bytes packing eight 6-bit (scale, min) pairs, 128 bytes of
/// nibbles. 64-value chunk c takes the low nibbles of bytes 32c..32c+31 for its first 32 values (pair 2c) and the
/// high nibbles for the next 32 (pair 2c+1); x = d·scale·q − dmin·min.</item>
/// <item>Q5_K (256 values, 176 bytes): as Q4_K with 32 bytes of fifth bits (qh) between the scales and the nibbles:
/// value l of pair j adds bit j of qh[l] as 16.</item>
/// <item>Q6_K (256 values, 210 bytes): 128 bytes of low nibbles (ql), 64 bytes of 2-bit high parts (qh), 16 int8
/// scales (one per 16 values), f16 d; x = d·scale·(q − 32).</item>
/// </list>
/// </summary>
public static unsafe class BlockQuantization
{
    public const int QK = 32;
    public const int QKK = 256;

    /// <summary>f32 value of every f16 bit pattern, so a block scale costs one load (<c>(float)Half</c> is ~20 instructions).</summary>
    private static readonly float* HalfTable = BuildHalfTable();

    private static float* BuildHalfTable()
    {
        var table = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(byte* p) => HalfTable[*(ushort*)p];

    /// <summary>
    /// The table itself, for kernels to read once before their loops: a method compiled with full optimisation before
    /// this class is initialised checks that on every access to a static, and spills its vector registers around the check.
    /// </summary>
    internal static float* Halves => HalfTable;

    private static ushort HalfBits(float v) => BitConverter.HalfToUInt16Bits((Half)v);

    /// <summary>
    /// Pair j of the packed 6-bit (scale, min) pairs of Q4_K/Q5_K. Pairs 0–3 are the low 6 bits of bytes j and j+4;
    /// pairs 4–7 take their low 4 bits from byte j+4's nibbles and their top 2 bits from the spare high bits of
    /// bytes j−4 (scale) and j (min).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Scale, int Min) ScaleMin(byte* scales, int j) => j < 4
        ? (scales[j] & 63, scales[j + 4] & 63)
        : ((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));

    /// <summary>
    /// All eight (scale, min) pairs of Q4_K/Q5_K at once, as <see cref="ScaleMin"/> unpacks them one by one but on 32-bit
    /// words: byte j of <paramref name="scales"/> is pair j's scale, byte j of <paramref name="mins"/> its minimum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScalesAndMins(byte* packed, out ulong scales, out ulong mins)
    {
        uint low = Unsafe.ReadUnaligned<uint>(packed), middle = Unsafe.ReadUnaligned<uint>(packed + 4), high = Unsafe.ReadUnaligned<uint>(packed + 8);
        const uint sixBits = 0x3F3F3F3F, fourBits = 0x0F0F0F0F, topBits = 0x03030303;
        scales = (low & sixBits) | (ulong)((high & fourBits) | (((low >> 6) & topBits) << 4)) << 32;
        mins = (middle & sixBits) | (ulong)(((high >> 4) & fourBits) | (((middle >> 6) & topBits) << 4)) << 32;
    }

    /// <summary>Decodes whole blocks: <paramref name="destination"/> holds a whole number of blocks matching <paramref name="source"/>.</summary>
    public static void Dequantize(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        RequireQuantized(type);
        int elements = type.BlockElements();
        if (destination.Length % elements != 0)
            throw new ArgumentException($"{destination.Length} values are not a whole number of {type} blocks of {elements}", nameof(destination));
        if (source.Length != type.ByteCount(destination.Length))
            throw new ArgumentException($"{destination.Length / elements} {type} blocks need {type.ByteCount(destination.Length)} bytes, got {source.Length}", nameof(source));
        fixed (byte* s = source)
        fixed (float* d = destination)
            DequantizeRange(type, s, 0, destination.Length, d);
    }

    /// <summary>
    /// Values [start, start + count) of the block sequence at <paramref name="data"/> (element 0 at the first block's
    /// start); partial blocks at either end are decoded whole into a scratch block and the needed part copied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void DequantizeRange(DType type, byte* data, long start, int count, float* y)
    {
        int be = type.BlockElements(), bb = type.BlockBytes();
        byte* block = data + start / be * bb;
        int skip = (int)(start % be);
        float* scratch = stackalloc float[QKK];
        while (count > 0)
        {
            if (skip == 0 && count >= be)
            {
                DecodeBlock(type, block, y);
                y += be;
                count -= be;
            }
            else
            {
                DecodeBlock(type, block, scratch);
                int take = Math.Min(be - skip, count);
                new ReadOnlySpan<float>(scratch + skip, take).CopyTo(new Span<float>(y, take));
                y += take;
                count -= take;
                skip = 0;
            }
            block += bb;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DecodeBlock(DType type, byte* block, float* y)
    {
        switch (type)
        {
            case DType.Q8_0: DecodeQ8_0(block, y); break;
            case DType.Q4_0: DecodeQ4_0(block, y); break;
            case DType.Q4_K: DecodeQ4_K(block, y); break;
            case DType.Q5_K: DecodeQ5_K(block, y); break;
            case DType.Q6_K: DecodeQ6_K(block, y); break;
            default: throw new ArgumentException($"{type} is not a quantized type", nameof(type));
        }
    }

    private static void DecodeQ8_0(byte* block, float* y)
    {
        float d = Half(block);
        sbyte* q = (sbyte*)(block + 2);
        if (Avx2.IsSupported)
        {
            var dv = Vector256.Create(d);
            for (int j = 0; j < QK; j += 8)
                Avx.Store(y + j, Avx.Multiply(dv, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + j))));
            return;
        }
        for (int j = 0; j < QK; j++) y[j] = d * q[j];
    }

    private static void DecodeQ4_0(byte* block, float* y)
    {
        float d = Half(block);
        byte* qs = block + 2;
        for (int j = 0; j < QK / 2; j++)
        {
            y[j] = d * ((qs[j] & 0x0F) - 8);
            y[j + QK / 2] = d * ((qs[j] >> 4) - 8);
        }
    }

    private static void DecodeQ4_K(byte* block, float* y) => DecodeKWithMins(block, null, block + 16, y);

    private static void DecodeQ5_K(byte* block, float* y) => DecodeKWithMins(block, block + 16, block + 48, y);

    /// <summary>Q4_K (no <paramref name="qh"/>) and Q5_K: x = d·scale·q − dmin·min per 32-value pair.</summary>
    private static void DecodeKWithMins(byte* block, byte* qh, byte* qs, float* y)
    {
        float d = Half(block), dmin = Half(block + 2);
        byte* scales = block + 4;
        for (int chunk = 0; chunk < 4; chunk++)
        {
            var (sc1, m1) = ScaleMin(scales, 2 * chunk);
            var (sc2, m2) = ScaleMin(scales, 2 * chunk + 1);
            float d1 = d * sc1, o1 = dmin * m1, d2 = d * sc2, o2 = dmin * m2;
            byte* q = qs + 32 * chunk;
            float* out1 = y + 64 * chunk, out2 = out1 + 32;
            int bit1 = 2 * chunk, bit2 = bit1 + 1;
            int l = 0;
            if (Avx2.IsSupported)
            {
                // Eight values at a time with the scalar loop's two roundings (multiply, then subtract), so both paths agree bit for bit.
                Vector256<float> vd1 = Vector256.Create(d1), vo1 = Vector256.Create(o1), vd2 = Vector256.Create(d2), vo2 = Vector256.Create(o2);
                var low = Vector256.Create(0x0F);
                for (; l < 32; l += 8)
                {
                    var bytes = Avx2.ConvertToVector256Int32(q + l);
                    Vector256<int> n1 = bytes & low, n2 = Avx2.ShiftRightLogical(bytes, 4);
                    if (qh != null)
                    {
                        var high = Avx2.ConvertToVector256Int32(qh + l);
                        n1 |= Avx2.ShiftLeftLogical((high >>> bit1) & Vector256<int>.One, 4);
                        n2 |= Avx2.ShiftLeftLogical((high >>> bit2) & Vector256<int>.One, 4);
                    }
                    Avx.Store(out1 + l, Avx.Subtract(Avx.Multiply(vd1, Avx.ConvertToVector256Single(n1)), vo1));
                    Avx.Store(out2 + l, Avx.Subtract(Avx.Multiply(vd2, Avx.ConvertToVector256Single(n2)), vo2));
                }
            }
            for (; l < 32; l++)
            {
                int h1 = qh == null ? 0 : ((qh[l] >> bit1) & 1) << 4, h2 = qh == null ? 0 : ((qh[l] >> bit2) & 1) << 4;
                out1[l] = d1 * ((q[l] & 0x0F) | h1) - o1;
                out2[l] = d2 * ((q[l] >> 4) | h2) - o2;
            }
        }
    }

    private static void DecodeQ6_K(byte* block, float* y)
    {
        byte* ql = block, qh = block + 128;
        sbyte* scales = (sbyte*)(block + 192);
        float d = Half(block + 208);
        // Each 128-value half uses 64 ql bytes, 32 qh bytes and 8 scales; value 32·t + l (t = 0..3) takes a nibble
        // of ql[l] (t even) or ql[l+32] (t odd) — low for t < 2, high otherwise — and bits 2t..2t+1 of qh[l].
        for (int half = 0; half < 2; half++)
        {
            byte* l4 = ql + 64 * half, h = qh + 32 * half;
            sbyte* sc = scales + 8 * half;
            float* o = y + 128 * half;
            int l = 0;
            if (Avx2.IsSupported)
            {
                // Eight values at a time (one scale each: scales change every 16), rounding as the scalar loop does.
                Vector256<int> low = Vector256.Create(0x0F), three = Vector256.Create(3), offset = Vector256.Create(32);
                for (; l < 32; l += 8)
                {
                    int s = l / 16;
                    Vector256<int> a = Avx2.ConvertToVector256Int32(l4 + l), b = Avx2.ConvertToVector256Int32(l4 + l + 32), hb = Avx2.ConvertToVector256Int32(h + l);
                    Avx.Store(o + l, Avx.Multiply(Vector256.Create(d * sc[s]), Avx.ConvertToVector256Single(((a & low) | Avx2.ShiftLeftLogical(hb & three, 4)) - offset)));
                    Avx.Store(o + l + 32, Avx.Multiply(Vector256.Create(d * sc[s + 2]), Avx.ConvertToVector256Single(((b & low) | Avx2.ShiftLeftLogical(Avx2.ShiftRightLogical(hb, 2) & three, 4)) - offset)));
                    Avx.Store(o + l + 64, Avx.Multiply(Vector256.Create(d * sc[s + 4]), Avx.ConvertToVector256Single((Avx2.ShiftRightLogical(a, 4) | Avx2.ShiftLeftLogical(Avx2.ShiftRightLogical(hb, 4) & three, 4)) - offset)));
                    Avx.Store(o + l + 96, Avx.Multiply(Vector256.Create(d * sc[s + 6]), Avx.ConvertToVector256Single((Avx2.ShiftRightLogical(b, 4) | Avx2.ShiftLeftLogical(Avx2.ShiftRightLogical(hb, 6), 4)) - offset)));
                }
            }
            for (; l < 32; l++)
            {
                int s = l / 16;
                o[l] = d * sc[s] * (((l4[l] & 0x0F) | ((h[l] & 3) << 4)) - 32);
                o[l + 32] = d * sc[s + 2] * (((l4[l + 32] & 0x0F) | (((h[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = d * sc[s + 4] * (((l4[l] >> 4) | (((h[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = d * sc[s + 6] * (((l4[l + 32] >> 4) | (((h[l] >> 6) & 3) << 4)) - 32);
            }
        }
    }

    /// <summary>
    /// Encodes <paramref name="source"/> (a whole number of blocks) as <paramref name="type"/>. Scales are chosen
    /// per block from the value range (Q8_0, Q4_0 as ggml's reference quantizer; K-quants by the sub-block range
    /// with 6/8-bit scales, without ggml's iterative refinement, so their error is somewhat larger).
    /// </summary>
    public static void Quantize(DType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        RequireQuantized(type);
        int be = type.BlockElements(), bb = type.BlockBytes();
        if (source.Length % be != 0)
            throw new ArgumentException($"{source.Length} values are not a whole number of {type} blocks of {be}", nameof(source));
        if (destination.Length != type.ByteCount(source.Length))
            throw new ArgumentException($"{source.Length} values of {type} take {type.ByteCount(source.Length)} bytes, got {destination.Length}", nameof(destination));
        for (int b = 0; b < source.Length / be; b++)
        {
            var x = source.Slice(b * be, be);
            var block = destination.Slice(b * bb, bb);
            switch (type)
            {
                case DType.Q8_0: EncodeQ8_0(x, block); break;
                case DType.Q4_0: EncodeQ4_0(x, block); break;
                case DType.Q4_K: EncodeKWithMins(x, block, fifthBit: false); break;
                case DType.Q5_K: EncodeKWithMins(x, block, fifthBit: true); break;
                default: EncodeQ6_K(x, block); break;
            }
        }
    }

    private static void WriteHalf(Span<byte> to, float value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(to, HalfBits(value));

    private static float RoundedToHalf(float value) => (float)(Half)value;

    private static void EncodeQ8_0(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0f;
        foreach (var v in x) amax = MathF.Max(amax, MathF.Abs(v));
        float d = amax / 127f, id = d > 0f ? 1f / d : 0f;
        WriteHalf(block, d);
        for (int j = 0; j < QK; j++) block[2 + j] = (byte)(sbyte)Math.Clamp(MathF.Round(x[j] * id), -127f, 127f);
    }

    private static void EncodeQ4_0(ReadOnlySpan<float> x, Span<byte> block)
    {
        // The value of largest magnitude maps to −8 exactly (ggml's reference choice), the rest into −8..7.
        float max = 0f;
        foreach (var v in x) if (MathF.Abs(v) > MathF.Abs(max)) max = v;
        float d = max / -8f, id = d != 0f ? 1f / d : 0f;
        WriteHalf(block, d);
        for (int j = 0; j < QK / 2; j++)
        {
            int lo = Math.Min(15, (int)(x[j] * id + 8.5f)), hi = Math.Min(15, (int)(x[j + QK / 2] * id + 8.5f));
            block[2 + j] = (byte)(Math.Max(0, lo) | (Math.Max(0, hi) << 4));
        }
    }

    /// <summary>Q4_K (nibbles, levels 0–15) or Q5_K (plus a fifth bit, levels 0–31).</summary>
    private static void EncodeKWithMins(ReadOnlySpan<float> x, Span<byte> block, bool fifthBit)
    {
        int levels = fifthBit ? 31 : 15;
        Span<float> scale = stackalloc float[8], min = stackalloc float[8];
        float maxScale = 0f, maxMin = 0f;
        for (int j = 0; j < 8; j++)
        {
            var sub = x.Slice(32 * j, 32);
            float lo = 0f, hi = float.MinValue;
            foreach (var v in sub) { lo = MathF.Min(lo, v); hi = MathF.Max(hi, v); }
            scale[j] = (hi - lo) / levels;
            min[j] = -lo;
            maxScale = MathF.Max(maxScale, scale[j]);
            maxMin = MathF.Max(maxMin, min[j]);
        }
        float d = RoundedToHalf(maxScale / 63f), dmin = RoundedToHalf(maxMin / 63f);
        WriteHalf(block, d);
        WriteHalf(block[2..], dmin);
        Span<int> sc = stackalloc int[8], m = stackalloc int[8];
        for (int j = 0; j < 8; j++)
        {
            sc[j] = d > 0f ? (int)Math.Clamp(MathF.Round(scale[j] / d), 0f, 63f) : 0;
            // Round the offset up so the sub-block's smallest value stays reachable with q ≥ 0.
            m[j] = dmin > 0f ? (int)Math.Clamp(MathF.Ceiling(min[j] / dmin), 0f, 63f) : 0;
        }
        var scales = block.Slice(4, 12);
        for (int j = 0; j < 4; j++)
        {
            scales[j] = (byte)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            scales[j + 4] = (byte)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
            scales[j + 8] = (byte)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
        }
        var qh = fifthBit ? block.Slice(16, 32) : default;
        var qs = block.Slice(fifthBit ? 48 : 16, 128);
        qh.Clear();
        for (int j = 0; j < 8; j++)
        {
            float step = d * sc[j], offset = dmin * m[j];
            float inv = step > 0f ? 1f / step : 0f;
            int chunk = j / 2;
            bool high = (j & 1) == 1;
            for (int l = 0; l < 32; l++)
            {
                int q = (int)Math.Clamp(MathF.Round((x[32 * j + l] + offset) * inv), 0f, levels);
                ref byte b = ref qs[32 * chunk + l];
                b = high ? (byte)((b & 0x0F) | ((q & 15) << 4)) : (byte)((b & 0xF0) | (q & 15));
                if (fifthBit && q > 15) qh[l] |= (byte)(1 << j);
            }
        }
    }

    private static void EncodeQ6_K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<float> scale = stackalloc float[16];
        float maxScale = 0f;
        for (int i = 0; i < 16; i++)
        {
            float amax = 0f;
            foreach (var v in x.Slice(16 * i, 16)) amax = MathF.Max(amax, MathF.Abs(v));
            scale[i] = amax / 31f;
            maxScale = MathF.Max(maxScale, scale[i]);
        }
        float d = RoundedToHalf(maxScale / 127f);
        var ql = block[..128];
        var qh = block.Slice(128, 64);
        var scales = block.Slice(192, 16);
        ql.Clear();
        qh.Clear();
        for (int i = 0; i < 16; i++)
        {
            int sc = d > 0f ? (int)Math.Clamp(MathF.Round(scale[i] / d), -128f, 127f) : 0;
            scales[i] = (byte)(sbyte)sc;
            float step = d * sc, inv = step != 0f ? 1f / step : 0f;
            for (int v = 16 * i; v < 16 * i + 16; v++)
            {
                int q = (int)Math.Clamp(MathF.Round(x[v] * inv), -32f, 31f) + 32;
                // Inverse of the decoder's placement: half, then t = position / 32 within the half, l = position % 32.
                int half = v / 128, t = v % 128 / 32, l = v % 32;
                int qlIndex = 64 * half + l + (t & 1) * 32;
                ql[qlIndex] |= (byte)((t < 2 ? q & 15 : (q & 15) << 4));
                qh[32 * half + l] |= (byte)((q >> 4) << (2 * t));
            }
        }
        WriteHalf(block[208..], d);
    }

    private static void RequireQuantized(DType type)
    {
        if (!type.IsQuantized()) throw new ArgumentException($"{type} is not a quantized type", nameof(type));
    }
}

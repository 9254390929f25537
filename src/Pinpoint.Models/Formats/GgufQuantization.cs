using System.Buffers.Binary;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Block layouts and decoders for the ggml types Pinpoint reads. Quantized types store fixed-size blocks, each
/// covering <see cref="BlockElements"/> consecutive values of a row:
/// <list type="bullet">
/// <item>Q8_0 (32 values, 34 bytes): f16 scale d, then 32 int8 q; x = d·q.</item>
/// <item>Q4_0 (32 values, 18 bytes): f16 d, then 16 bytes whose low nibbles are values 0–15 and high nibbles
/// values 16–31; x = d·(q − 8).</item>
/// <item>Q4_K (256 values, 144 bytes): f16 d, f16 dmin, 12 bytes packing eight 6-bit (scale, min) pairs, then
/// 128 bytes of nibbles. Each 64-value chunk c uses the low nibbles of bytes 32c..32c+31 for its first 32 values
/// (pair 2c) and the high nibbles for the next 32 (pair 2c+1); x = d·scale·q − dmin·min.</item>
/// <item>Q6_K (256 values, 210 bytes): 128 bytes of low nibbles (ql), 64 bytes of 2-bit high parts (qh), 16 int8
/// scales, f16 d; x = d·scale·(q − 32) with q the 6-bit value, one scale per 16 values.</item>
/// </list>
/// </summary>
public static class GgufQuantization
{
    public const int QK = 32;
    public const int QKK = 256;

    public static bool IsSupported(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    public static bool IsQuantized(GgmlType type) => type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>Values per block (1 for plain float types).</summary>
    public static int BlockElements(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 1,
        GgmlType.Q8_0 or GgmlType.Q4_0 => QK,
        GgmlType.Q4_K or GgmlType.Q6_K => QKK,
        _ => throw Unsupported(type),
    };

    /// <summary>Bytes per block.</summary>
    public static int BlockBytes(GgmlType type) => type switch
    {
        GgmlType.F32 => 4,
        GgmlType.F16 or GgmlType.BF16 => 2,
        GgmlType.Q8_0 => 2 + QK,
        GgmlType.Q4_0 => 2 + QK / 2,
        GgmlType.Q4_K => 4 + 12 + QKK / 2,
        GgmlType.Q6_K => QKK / 2 + QKK / 4 + QKK / 16 + 2,
        _ => throw Unsupported(type),
    };

    /// <summary>
    /// Decodes whole blocks of <paramref name="type"/> from <paramref name="source"/> into
    /// <paramref name="destination"/>, whose length must be a multiple of the block size and match the source.
    /// </summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int elements = BlockElements(type), bytes = BlockBytes(type);
        if (destination.Length % elements != 0)
            throw new ArgumentException($"{destination.Length} values are not a whole number of {type} blocks of {elements}", nameof(destination));
        int blocks = destination.Length / elements;
        if (source.Length != (long)blocks * bytes)
            throw new ArgumentException($"{blocks} {type} blocks need {(long)blocks * bytes} bytes, got {source.Length}", nameof(source));
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * bytes, bytes);
            var y = destination.Slice(b * elements, elements);
            switch (type)
            {
                case GgmlType.Q8_0: DecodeQ8_0(block, y); break;
                case GgmlType.Q4_0: DecodeQ4_0(block, y); break;
                case GgmlType.Q4_K: DecodeQ4_K(block, y); break;
                case GgmlType.Q6_K: DecodeQ6_K(block, y); break;
                default: throw new ArgumentException($"{type} is not a quantized type", nameof(type));
            }
        }
    }

    private static float Half(ReadOnlySpan<byte> b) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b));

    private static void DecodeQ8_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block);
        for (int j = 0; j < QK; j++) y[j] = d * (sbyte)block[2 + j];
    }

    private static void DecodeQ4_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block);
        var qs = block[2..];
        for (int j = 0; j < QK / 2; j++)
        {
            y[j] = d * ((qs[j] & 0x0F) - 8);
            y[j + QK / 2] = d * ((qs[j] >> 4) - 8);
        }
    }

    /// <summary>
    /// Pair j of Q4_K's packed 6-bit (scale, min) pairs. Pairs 0–3 are the low 6 bits of bytes j and j+4; pairs
    /// 4–7 take their low 4 bits from byte j+4's nibbles and their top 2 bits from the spare high bits of bytes
    /// j−4 (scale) and j (min).
    /// </summary>
    internal static (int Scale, int Min) Q4KScaleMin(ReadOnlySpan<byte> scales, int j) => j < 4
        ? (scales[j] & 63, scales[j + 4] & 63)
        : ((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));

    private static void DecodeQ4_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block), dmin = Half(block[2..]);
        var scales = block.Slice(4, 12);
        var qs = block.Slice(16, QKK / 2);
        for (int chunk = 0; chunk < 4; chunk++)
        {
            var (sc1, m1) = Q4KScaleMin(scales, 2 * chunk);
            var (sc2, m2) = Q4KScaleMin(scales, 2 * chunk + 1);
            var q = qs.Slice(32 * chunk, 32);
            var out1 = y.Slice(64 * chunk, 32);
            var out2 = y.Slice(64 * chunk + 32, 32);
            for (int l = 0; l < 32; l++)
            {
                out1[l] = d * sc1 * (q[l] & 0x0F) - dmin * m1;
                out2[l] = d * sc2 * (q[l] >> 4) - dmin * m2;
            }
        }
    }

    private static void DecodeQ6_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        var ql = block[..128];
        var qh = block.Slice(128, 64);
        var scales = block.Slice(192, 16);
        float d = Half(block[208..]);
        // Each 128-value half uses 64 ql bytes, 32 qh bytes and 8 scales; value 32·k + l (k = 0..3) takes a
        // nibble of ql[l] (k even) or ql[l+32] (k odd) — low for k < 2, high otherwise — and bits 2k..2k+1 of qh[l].
        for (int half = 0; half < 2; half++)
        {
            var l4 = ql.Slice(64 * half, 64);
            var h = qh.Slice(32 * half, 32);
            var sc = scales.Slice(8 * half, 8);
            var o = y.Slice(128 * half, 128);
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((l4[l] & 0x0F) | ((h[l] & 3) << 4)) - 32;
                int q2 = ((l4[l + 32] & 0x0F) | (((h[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((l4[l] >> 4) | (((h[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((l4[l + 32] >> 4) | (((h[l] >> 6) & 3) << 4)) - 32;
                o[l] = d * (sbyte)sc[s] * q1;
                o[l + 32] = d * (sbyte)sc[s + 2] * q2;
                o[l + 64] = d * (sbyte)sc[s + 4] * q3;
                o[l + 96] = d * (sbyte)sc[s + 6] * q4;
            }
        }
    }

    private static NotSupportedException Unsupported(GgmlType type) =>
        new($"ggml type {(Enum.IsDefined(type) ? type.ToString() : "")} ({(uint)type}) is not supported; Pinpoint reads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K");
}

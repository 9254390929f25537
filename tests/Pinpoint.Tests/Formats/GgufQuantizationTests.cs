using System.Buffers.Binary;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Formats;

/// <summary>
/// Block decoders checked on hand-built blocks. Expected values are computed per element from the documented
/// layout (which byte, which nibble, which scale), not by running a block decoder.
/// </summary>
public class GgufQuantizationTests
{
    private static byte[] HalfBytes(float v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, BitConverter.HalfToUInt16Bits((Half)v));
        return b;
    }

    private static float[] Decode(DType type, byte[] block, int values)
    {
        var y = new float[values];
        BlockQuantization.Dequantize(type, block, y);
        return y;
    }

    private static unsafe (int, int) ScaleMin(byte[] packed, int j)
    {
        fixed (byte* p = packed) return BlockQuantization.ScaleMin(p, j);
    }

    [Fact]
    public void Q8_0ScalesSignedBytes()
    {
        var block = HalfBytes(0.5f).Concat(Enumerable.Range(0, 32).Select(j => (byte)(sbyte)(j * 8 - 128))).ToArray();
        Assert.Equal(34, block.Length);
        var y = Decode(DType.Q8_0, block, 32);
        for (int j = 0; j < 32; j++) Assert.Equal(0.5f * (j * 8 - 128), y[j]);
    }

    [Fact]
    public void Q4_0LowNibblesFirstHalfHighNibblesSecondHalf()
    {
        // Byte j holds value j in its low nibble and value j+16 in its high nibble, offset by 8.
        var qs = Enumerable.Range(0, 16).Select(j => (byte)(j | ((15 - j) << 4))).ToArray();
        var y = Decode(DType.Q4_0, HalfBytes(2f).Concat(qs).ToArray(), 32);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(2f * (j - 8), y[j]);
            Assert.Equal(2f * (15 - j - 8), y[j + 16]);
        }
    }

    [Fact]
    public void DecodesConsecutiveBlocks()
    {
        var block1 = HalfBytes(1f).Concat(Enumerable.Repeat((byte)3, 32)).ToArray();
        var block2 = HalfBytes(-1f).Concat(Enumerable.Repeat((byte)5, 32)).ToArray();
        var y = Decode(DType.Q8_0, block1.Concat(block2).ToArray(), 64);
        Assert.All(y[..32], v => Assert.Equal(3f, v));
        Assert.All(y[32..], v => Assert.Equal(-5f, v));
    }

    /// <summary>Packs eight 6-bit (scale, min) pairs the way Q4_K stores them.</summary>
    private static byte[] PackQ4KScales(int[] sc, int[] m)
    {
        var s = new byte[12];
        for (int j = 0; j < 4; j++)
        {
            s[j] = (byte)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            s[j + 4] = (byte)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
            s[j + 8] = (byte)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
        }
        return s;
    }

    [Fact]
    public void Q4KScaleMinUnpacksAllPairs()
    {
        int[] sc = [1, 63, 17, 42, 5, 63, 33, 48], m = [0, 9, 63, 21, 62, 7, 16, 31];
        var packed = PackQ4KScales(sc, m);
        for (int j = 0; j < 8; j++) Assert.Equal((sc[j], m[j]), ScaleMin(packed, j));
    }

    [Fact]
    public void Q4_K()
    {
        var rng = new Random(7);
        int[] sc = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        int[] m = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        var qs = new byte[128];
        rng.NextBytes(qs);
        float d = 0.125f, dmin = 0.0625f;
        var block = HalfBytes(d).Concat(HalfBytes(dmin)).Concat(PackQ4KScales(sc, m)).Concat(qs).ToArray();
        Assert.Equal(144, block.Length);
        var y = Decode(DType.Q4_K, block, 256);
        for (int i = 0; i < 256; i++)
        {
            int chunk = i / 64, within = i % 64;
            int pair = 2 * chunk + within / 32;
            byte b = qs[32 * chunk + within % 32];
            int q = within < 32 ? b & 15 : b >> 4;
            Assert.Equal(d * sc[pair] * q - dmin * m[pair], y[i], 6);
        }
    }

    [Fact]
    public void Q4_KWithUnitScalesIsTheNibbles()
    {
        var block = HalfBytes(1f).Concat(HalfBytes(0f)).Concat(PackQ4KScales([1, 1, 1, 1, 1, 1, 1, 1], new int[8]))
            .Concat(Enumerable.Range(0, 128).Select(i => (byte)((i % 16) | (15 - i % 16) << 4))).ToArray();
        var y = Decode(DType.Q4_K, block, 256);
        Assert.Equal(0f, y[0]);
        Assert.Equal(15f, y[15]);
        Assert.Equal(15f, y[32]); // high nibble of byte 0
        Assert.Equal(1f, y[64 + 1]); // second chunk, byte 32+1 low nibble = (33 % 16)
    }

    [Fact]
    public void Q6_K()
    {
        var rng = new Random(11);
        var ql = new byte[128];
        var qh = new byte[64];
        rng.NextBytes(ql);
        rng.NextBytes(qh);
        var scales = Enumerable.Range(0, 16).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        float d = 0.03125f;
        var block = ql.Concat(qh).Concat(scales.Select(s => (byte)s)).Concat(HalfBytes(d)).ToArray();
        Assert.Equal(210, block.Length);
        var y = Decode(DType.Q6_K, block, 256);
        for (int i = 0; i < 256; i++)
        {
            int half = i / 128, r = i % 128, k = r / 32, l = r % 32;
            byte low = ql[64 * half + l + (k % 2) * 32];
            int nibble = k < 2 ? low & 15 : low >> 4;
            int high = (qh[32 * half + l] >> (2 * k)) & 3;
            int q = (nibble | (high << 4)) - 32;
            Assert.Equal(d * scales[8 * half + r / 16] * q, y[i], 6);
        }
    }

    [Fact]
    public void WrongSizesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => BlockQuantization.Dequantize(DType.Q8_0, new byte[33], new float[32]));
        Assert.Throws<ArgumentException>(() => BlockQuantization.Dequantize(DType.Q8_0, new byte[34], new float[31]));
        Assert.Throws<ArgumentException>(() => BlockQuantization.Dequantize(DType.F16, new byte[2], new float[1]));
    }

    [Fact]
    public void Q5_KAddsTheFifthBitOfEachPair()
    {
        var rng = new Random(5);
        int[] sc = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        int[] m = Enumerable.Range(0, 8).Select(_ => rng.Next(64)).ToArray();
        var qh = new byte[32];
        var qs = new byte[128];
        rng.NextBytes(qh);
        rng.NextBytes(qs);
        float d = 0.25f, dmin = 0.125f;
        var block = HalfBytes(d).Concat(HalfBytes(dmin)).Concat(PackQ4KScales(sc, m)).Concat(qh).Concat(qs).ToArray();
        Assert.Equal(176, block.Length);
        var y = Decode(DType.Q5_K, block, 256);
        for (int i = 0; i < 256; i++)
        {
            int chunk = i / 64, within = i % 64, l = within % 32;
            int pair = 2 * chunk + within / 32;
            byte b = qs[32 * chunk + l];
            int q = (within < 32 ? b & 15 : b >> 4) | (((qh[l] >> pair) & 1) << 4);
            Assert.Equal(d * sc[pair] * q - dmin * m[pair], y[i], 5);
        }
    }

    /// <summary>
    /// The quantizer's blocks decode to within the format's resolution of the input: half a step of the block's
    /// (or sub-block's) scale, plus the error of storing the scales in 6 or 8 bits for K-quants.
    /// </summary>
    [Theory]
    [InlineData(DType.Q8_0, 0.005)]
    // The block's extreme maps to −8 exactly, so the other sign reaches only +7 steps: up to a whole step (max/8) there.
    [InlineData(DType.Q4_0, 0.13)]
    [InlineData(DType.Q4_K, 0.08)]
    [InlineData(DType.Q5_K, 0.04)]
    [InlineData(DType.Q6_K, 0.02)]
    public void QuantizeThenDequantizeStaysWithinTheResolution(DType type, double relativeError)
    {
        var rng = new Random(3);
        var x = Enumerable.Range(0, 1024).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) + 1)).ToArray();
        var blocks = new byte[type.ByteCount(x.Length)];
        BlockQuantization.Quantize(type, x, blocks);
        var y = new float[x.Length];
        BlockQuantization.Dequantize(type, blocks, y);
        int be = type.BlockElements();
        for (int b = 0; b < x.Length / be; b++)
        {
            float amax = x.Skip(b * be).Take(be).Max(Math.Abs);
            for (int i = b * be; i < (b + 1) * be; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= relativeError * amax, $"{type} value {i}: {x[i]} decoded as {y[i]} (block max {amax})");
        }
        // Not a constant: the values spread over the levels.
        Assert.True(y.Distinct().Count() > x.Length / 4);
    }
}

using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine.Kernels;

public class HalfConversionTests
{
    private static ushort[] AllPatterns()
    {
        var bits = new ushort[65536];
        for (int i = 0; i < bits.Length; i++) bits[i] = (ushort)i;
        return bits;
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void F16MatchesHalfOnEveryPattern(KernelPath path)
    {
        var bits = AllPatterns();
        var y = new float[bits.Length];
        HalfConversion.ToSingle(bits, DType.F16, y, path);
        for (int i = 0; i < bits.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(y[i]),
                $"0x{i:X4}: expected 0x{BitConverter.SingleToInt32Bits(expected):X8}, got 0x{BitConverter.SingleToInt32Bits(y[i]):X8}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void BF16IsTheTopHalfOnEveryPattern(KernelPath path)
    {
        var bits = AllPatterns();
        var y = new float[bits.Length];
        HalfConversion.ToSingle(bits, DType.BF16, y, path);
        for (int i = 0; i < bits.Length; i++)
            Assert.Equal(i << 16, BitConverter.SingleToInt32Bits(y[i]));
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void OddLengthsConvertEveryElement(KernelPath path)
    {
        foreach (var n in KernelTesting.Lengths)
        {
            var bits = new ushort[n];
            for (int i = 0; i < n; i++) bits[i] = BitConverter.HalfToUInt16Bits((Half)(i + 0.5f));
            var y = new float[n];
            HalfConversion.ToSingle(bits, DType.F16, y, path);
            for (int i = 0; i < n; i++) Assert.Equal(i + 0.5f, y[i]);
        }
    }
}

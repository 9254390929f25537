using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class MatMulOpTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(1);
        var a = GradCheck.Random(rng, 1, 2, 3, 5);
        var b = GradCheck.Random(rng, 1, 5, 4);
        a.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.MatMul(x[0], x[1]), [a, b]);
    }

    [Fact]
    public void GradientMatchesFiniteDifferencesWithTransposedWeight()
    {
        var rng = new Random(2);
        var a = GradCheck.Random(rng, 1, 3, 6);
        var w = GradCheck.Random(rng, 1, 4, 6);
        a.RequiresGrad = w.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.MatMul(x[0], x[1], transposeB: true), [a, w]);
    }

    [Fact]
    public void GradientFlowsThroughTransposedView()
    {
        var rng = new Random(3);
        var a = GradCheck.Random(rng, 1, 3, 5);
        var w = GradCheck.Random(rng, 1, 4, 5);
        a.RequiresGrad = w.RequiresGrad = true;
        // w.T is a strided [5, 4] view; MatMul reads it in place and the gradient lands in w's layout.
        GradCheck.Check((cx, x) => cx.MatMul(x[0], cx.Transpose(x[1], 0, 1)), [a, w]);
    }

    [Fact]
    public void MatchesDoubleReferenceForBothLayouts()
    {
        var rng = new Random(4);
        var a = GradCheck.Random(rng, 1, 2, 7, 33);
        var b = GradCheck.Random(rng, 1, 33, 19);
        var expected = Reference(a.ToArray(), b.ToArray(), 14, 19, 33, transposeB: false);
        AssertClose(expected, Compute.Eager.MatMul(a, b));
        Assert.Equal([2, 7, 19], Compute.Eager.MatMul(a, b).Shape.ToArray());
        var bt = b.Transpose(0, 1).Contiguous();
        AssertClose(expected, Compute.Eager.MatMul(a, bt, transposeB: true));
    }

    [Theory]
    [InlineData(DType.BF16)]
    [InlineData(DType.F16)]
    public unsafe void HalfPrecisionWeightsAreWidened(DType dtype)
    {
        var rng = new Random(5);
        var a = GradCheck.Random(rng, 1, 3, 17);
        var bits = new ushort[9 * 17];
        var widened = new float[bits.Length];
        for (int i = 0; i < bits.Length; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            bits[i] = dtype == DType.BF16 ? (ushort)(BitConverter.SingleToInt32Bits(v) >> 16) : BitConverter.HalfToUInt16Bits((Half)v);
            widened[i] = HalfConversion.ToSingle(bits[i], dtype);
        }
        fixed (ushort* p = bits)
        {
            var w = new Tensor(new Storage((byte*)p, bits.Length, dtype, owner: bits), 0, [9, 17]);
            var expected = Reference(a.ToArray(), widened, 3, 9, 17, transposeB: true);
            AssertClose(expected, Compute.Eager.MatMul(a, w, transposeB: true));

            var cx = new Compute(new Tape());
            w.RequiresGrad = true;
            var ex = Assert.Throws<ArgumentException>(() => cx.MatMul(a, w, transposeB: true));
            Assert.Contains(dtype.ToString(), ex.Message);
        }
    }

    [Fact]
    public void ShapeMismatchNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.MatMul(Tensor.Zeros(2, 3), Tensor.Zeros(4, 5)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4, 5]", ex.Message);
    }

    internal static float[] Reference(float[] a, float[] b, int m, int n, int k, bool transposeB)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int p = 0; p < k; p++) sum += (double)a[i * k + p] * (transposeB ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = (float)sum;
        }
        return c;
    }

    internal static void AssertClose(float[] expected, Tensor actual)
    {
        var got = actual.ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-4, $"element {i}: {got[i]:G9} vs expected {expected[i]:G9}");
    }
}

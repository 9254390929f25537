using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class ElementwiseTests
{
    private delegate void Kernel(float[] a, float[] b, float[] y, KernelPath path);

    private static void Check(KernelPath path, Kernel kernel, Func<double, double, double, double> reference, string name)
    {
        var rng = new Random(3);
        foreach (var n in KernelTesting.Lengths)
        {
            var a = KernelTesting.Random(rng, n, 10);
            var b = KernelTesting.Random(rng, n, 10);
            var y = KernelTesting.Random(rng, n, 10);
            var expected = Enumerable.Range(0, n).Select(i => reference(a[i], b[i], y[i])).ToArray();
            kernel(a, b, y, path);
            KernelTesting.AllClose(expected, y, 1e-6, 1e-5, $"{name} n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void ArithmeticMatchesDoubleReference(KernelPath path)
    {
        Check(path, (a, b, y, p) => Elementwise.Multiply(a, b, y, p), (a, b, y) => a * b, "multiply");
        Check(path, (a, b, y, p) => Elementwise.MultiplyAccumulate(a, b, y, p), (a, b, y) => y + a * b, "multiply-accumulate");
        Check(path, (a, b, y, p) => Elementwise.AddScaled(a, b, -1.5f, y, p), (a, b, y) => a - 1.5 * b, "add-scaled");
        Check(path, (a, b, y, p) => Elementwise.Scale(a, 0.25f, y, p), (a, b, y) => 0.25 * a, "scale");
        Check(path, (a, b, y, p) => Elementwise.ScaleAccumulate(a, 3f, y, p), (a, b, y) => y + 3 * a, "scale-accumulate");
        Check(path, (a, b, y, p) => Elementwise.AddConstant(y, 2f, p), (a, b, y) => y + 2, "add-constant");
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void SumMatchesDoubleReference(KernelPath path)
    {
        var rng = new Random(4);
        foreach (var n in KernelTesting.Lengths.Append(10_000))
        {
            var x = KernelTesting.Random(rng, n, 1);
            // Rounding error scales with Σ|x|, not with the (cancelling) sum itself.
            KernelTesting.Close(x.Sum(v => (double)v), Elementwise.Sum(x, path), 0, 1e-6 * x.Sum(v => Math.Abs((double)v)), $"sum n={n}");
        }
    }

    [Fact]
    public void LengthMismatchIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Elementwise.Multiply(new float[3], new float[4], new float[3]));
        Assert.Contains("4", ex.Message);
        Assert.Throws<ArgumentException>(() => Elementwise.Multiply(new float[3], [], new float[3]));
        Assert.Throws<ArgumentException>(() => Elementwise.Scale(new float[3], 2f, new float[2]));
    }
}

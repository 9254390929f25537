using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class VectorMathTests
{
    private static readonly float[] Specials = [0f, -0f, 1e-30f, -1e-30f, 1e-5f, 0.5f, -0.549f, 0.551f, 1f, -1f, 10f, -10f, 88.7f, 88.8f, 89f, -87.3f, -100f, -103.9f, -104f, -200f, 1e4f, -1e4f, 3e38f, -3e38f];

    private static float[] Inputs(double scale)
    {
        var rng = new Random(7);
        return [.. Specials, .. KernelTesting.Random(rng, 1000, scale)];
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void ExpIsWithinTwoUlps(KernelPath path)
    {
        var x = Inputs(100);
        var y = new float[x.Length];
        VectorMath.Exp(x, y, path);
        // Below 2^-126 results are subnormal: compare absolutely there.
        for (int i = 0; i < x.Length; i++) KernelTesting.Close(Math.Exp(x[i]), y[i], 2.5e-7, 1.5e-45, $"exp({x[i]:G9})");
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void TanhIsAccurate(KernelPath path)
    {
        foreach (var scale in new[] { 1.0, 20.0 })
        {
            var x = Inputs(scale);
            var y = new float[x.Length];
            VectorMath.Tanh(x, y, path);
            for (int i = 0; i < x.Length; i++) KernelTesting.Close(Math.Tanh(x[i]), y[i], 4e-7, 1e-45, $"tanh({x[i]:G9})");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void ErfIsAccurate(KernelPath path)
    {
        foreach (var scale in new[] { 0.6, 6.0 })
        {
            var x = Inputs(scale);
            var y = new float[x.Length];
            VectorMath.Erf(x, y, path);
            for (int i = 0; i < x.Length; i++)
            {
                // Relative accuracy below 1 (series), absolute beyond (1 - erfc).
                bool series = Math.Abs(x[i]) < 1;
                KernelTesting.Close(KernelTesting.Erf(x[i]), y[i], series ? 3e-7 : 0, series ? 1e-45 : 1.5e-7, $"erf({x[i]:G9})");
            }
        }
    }
}

using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

/// <summary>Shared pieces of the kernel tests: the paths this CPU runs, random rows, and tolerance checks.</summary>
public static class KernelTesting
{
    public static TheoryData<KernelPath> Paths
    {
        get
        {
            var data = new TheoryData<KernelPath>();
            foreach (var p in KernelPaths.Supported) data.Add(p);
            return data;
        }
    }

    /// <summary>
    /// Asserts that <paramref name="run"/> allocates nothing once warm: after one warm-up call, it is measured over
    /// windows of <paramref name="callsPerWindow"/> calls, and at least one of a few windows must allocate exactly 0
    /// bytes. An allocation on the hot path recurs in every window and fails; one-time work the runtime may do on the
    /// calling thread at a moment that depends on machine load (tiered or on-stack-replacement JIT compiles finishing
    /// late) lands in one window only. The warm-up call itself must take every code path the measured calls take.
    /// </summary>
    public static void AssertSteadyStateDoesNotAllocate(Action run, int callsPerWindow = 3, string what = "")
    {
        const int Windows = 4;
        run();
        var allocated = new long[Windows];
        for (int w = 0; w < Windows; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < callsPerWindow; i++) run();
            allocated[w] = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated[w] == 0) return;
        }
        Assert.Fail($"{what}: every window of {callsPerWindow} warm calls allocated (bytes per window: {string.Join(", ", allocated)})");
    }

    /// <summary>Lengths that leave every possible tail after 16- and 8-wide vectors.</summary>
    public static readonly int[] Lengths = [1, 7, 8, 15, 16, 17, 33, 100];

    public static float[] Random(Random rng, int n, double scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    public static void Close(double expected, float actual, double rel, double abs, string what)
    {
        if (double.IsInfinity(expected) || Math.Abs(expected) > float.MaxValue)
        {
            Assert.True(float.IsInfinity(actual) && Math.Sign(actual) == Math.Sign(expected), $"{what}: expected {expected:G9}, got {actual:G9}");
            return;
        }
        Assert.True(float.IsFinite(actual), $"{what}: expected {expected:G9}, got {actual:G9}");
        double error = Math.Abs(actual - expected);
        Assert.True(error <= rel * Math.Abs(expected) + abs, $"{what}: expected {expected:G9}, got {actual:G9} (error {error:G3})");
    }

    public static void AllClose(double[] expected, float[] actual, double rel, double abs, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Close(expected[i], actual[i], rel, abs, $"{what}[{i}]");
    }

    /// <summary>erf in double: Maclaurin series below 2, 1 - erfc above.</summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        if (a >= 2) return Math.CopySign(1 - Erfc(a), x);
        double term = a, sum = a;
        for (int n = 1; n < 200 && Math.Abs(term) > 1e-20; n++)
        {
            term *= -a * a / n;
            sum += term / (2 * n + 1);
        }
        return Math.CopySign(2 / Math.Sqrt(Math.PI) * sum, x);
    }

    /// <summary>erfc in double: 1 - series below 2, Laplace's continued fraction (to full precision) above.</summary>
    public static double Erfc(double a)
    {
        if (a < 2) return 1 - Erf(a);
        double f = a;
        for (int n = 300; n >= 1; n--) f = a + n / 2.0 / f;
        return Math.Exp(-a * a) / (Math.Sqrt(Math.PI) * f);
    }
}

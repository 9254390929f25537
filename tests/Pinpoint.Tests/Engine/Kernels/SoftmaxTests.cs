using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class SoftmaxTests
{
    /// <summary>Random rows of several lengths plus the rows that break a naive softmax.</summary>
    private static IEnumerable<float[]> Rows()
    {
        var rng = new Random(9);
        foreach (var n in KernelTesting.Lengths) yield return KernelTesting.Random(rng, n, 5);
        yield return [1e4f, -1e4f, 0f, 1e4f - 1f, 3f];
        yield return [3e38f, -3e38f, 0f, 3e38f, 1f, -1f, 2e38f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f, 16f];
        yield return Enumerable.Repeat(-3e38f, 21).ToArray();
        yield return Enumerable.Repeat(42f, 19).ToArray();
        yield return KernelTesting.Random(rng, 50, 1e4);
    }

    private static double[] LogSoftmax(float[] x)
    {
        double max = x.Max();
        double logSum = Math.Log(x.Sum(v => Math.Exp(v - max)));
        return x.Select(v => Math.Max(v - max - logSum, -float.MaxValue)).ToArray();
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void ForwardIsStableAndAccurate(KernelPath path)
    {
        foreach (var x in Rows())
        {
            var logp = LogSoftmax(x);
            var y = new float[x.Length];
            Softmax.Forward(x, y, path);
            KernelTesting.AllClose(logp.Select(Math.Exp).ToArray(), y, 1e-6, 1e-7, $"softmax n={x.Length}");
            Softmax.LogForward(x, y, path);
            // |log p| can be ~6e38 here, so the slack is relative.
            KernelTesting.AllClose(logp, y, 1e-6, 1e-6, $"log-softmax n={x.Length}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void BackwardMatchesDoubleReference(KernelPath path)
    {
        var rng = new Random(10);
        foreach (var x in Rows())
        {
            var logp = LogSoftmax(x);
            var p = logp.Select(Math.Exp).ToArray();
            var gy = KernelTesting.Random(rng, x.Length, 1);
            double dot = p.Select((v, i) => v * gy[i]).Sum();
            double sumGy = gy.Sum(v => (double)v);

            var y = new float[x.Length];
            Softmax.Forward(x, y, path);
            var gx = Enumerable.Repeat(1f, x.Length).ToArray();
            Softmax.Backward(y, gy, gx, path);
            KernelTesting.AllClose(p.Select((v, i) => 1 + v * (gy[i] - dot)).ToArray(), gx, 1e-5, 1e-6, $"softmax grad n={x.Length}");

            Softmax.LogForward(x, y, path);
            Array.Fill(gx, 1f);
            Softmax.LogBackward(y, gy, gx, path);
            KernelTesting.AllClose(p.Select((v, i) => 1 + gy[i] - v * sumGy).ToArray(), gx, 1e-5, 1e-5, $"log-softmax grad n={x.Length}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void LogSumExpPartsAndAccumulateExp(KernelPath path)
    {
        foreach (var x in Rows())
        {
            var (max, logSum) = Softmax.LogSumExpParts(x, path);
            Assert.Equal(x.Max(), max);
            double refLogSum = Math.Log(x.Sum(v => Math.Exp(v - (double)x.Max())));
            KernelTesting.Close(refLogSum, logSum, 1e-6, 1e-6, $"log-sum n={x.Length}");
            var acc = new float[x.Length];
            Softmax.AccumulateExp(x, max, logSum, 2f, acc, path);
            KernelTesting.AllClose(LogSoftmax(x).Select(v => 2 * Math.Exp(v)).ToArray(), acc, 1e-5, 1e-7, $"accumulate-exp n={x.Length}");
        }
    }
}

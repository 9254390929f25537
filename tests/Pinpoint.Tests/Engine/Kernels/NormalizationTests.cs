using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class NormalizationTests
{
    public static TheoryData<KernelPath, bool> Cases
    {
        get
        {
            var data = new TheoryData<KernelPath, bool>();
            foreach (var p in KernelPaths.Supported)
            {
                data.Add(p, true);
                data.Add(p, false);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchDoubleReference(KernelPath path, bool center)
    {
        var rng = new Random(11);
        const float eps = 1e-5f;
        float offset = center ? 0f : 1f;
        foreach (var d in KernelTesting.Lengths)
        {
            // An offset row mean exercises the two-pass variance.
            var x = KernelTesting.Random(rng, d, 3).Select(v => v + 100f).ToArray();
            var w = KernelTesting.Random(rng, d, 1);
            var b = center ? KernelTesting.Random(rng, d, 1) : [];
            var dy = KernelTesting.Random(rng, d, 1);

            double mean = center ? x.Average(v => (double)v) : 0;
            double variance = x.Average(v => (v - mean) * (v - mean));
            double rstd = 1 / Math.Sqrt(variance + eps);
            var xhat = x.Select(v => (v - mean) * rstd).ToArray();
            var g = dy.Select((v, i) => v * (w[i] + (double)offset)).ToArray();
            double meanG = center ? g.Average() : 0;
            double meanGXhat = g.Select((v, i) => v * xhat[i]).Average();

            var y = new float[d];
            float rstdOut = Normalization.Forward(x, w, offset, b, eps, center, y, out float meanOut, path);
            KernelTesting.Close(rstd, rstdOut, 1e-5, 0, $"rstd d={d}");
            KernelTesting.Close(mean, meanOut, 1e-6, 0, $"mean d={d}");
            KernelTesting.AllClose(xhat.Select((v, i) => v * (w[i] + offset) + (center ? b[i] : 0)).ToArray(), y, 1e-4, 1e-4, $"y d={d}");

            var dx = Enumerable.Repeat(1f, d).ToArray();
            var dw = new float[d];
            var db = new float[d];
            Normalization.Backward(x, dy, w, offset, center, meanOut, rstdOut, dx, dw, db, path);
            KernelTesting.AllClose(g.Select((v, i) => 1 + rstd * (v - meanG - xhat[i] * meanGXhat)).ToArray(), dx, 1e-4, 1e-4, $"dx d={d}");
            KernelTesting.AllClose(dy.Select((v, i) => v * xhat[i]).ToArray(), dw, 1e-4, 1e-4, $"dw d={d}");
            KernelTesting.AllClose(dy.Select(v => (double)v).ToArray(), db, 0, 0, $"db d={d}");
        }
    }
}

using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class AdamWTests
{
    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void StepsMatchScalarDoubleReference(KernelPath path)
    {
        // The reference uses the float hyperparameters the kernel receives.
        const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
        var rng = new Random(12);
        foreach (var n in KernelTesting.Lengths)
        {
            var p = KernelTesting.Random(rng, n, 1);
            var m = new float[n];
            var v = new float[n];
            var rp = p.Select(x => (double)x).ToArray();
            var rm = new double[n];
            var rv = new double[n];
            for (int step = 1; step <= 5; step++)
            {
                var g = KernelTesting.Random(rng, n, 1);
                AdamW.Step(p, g, m, v, lr, b1, b2, eps, wd, step, path);
                for (int i = 0; i < n; i++)
                {
                    rp[i] *= 1 - (double)lr * wd;
                    rm[i] = b1 * rm[i] + (1 - (double)b1) * g[i];
                    rv[i] = b2 * rv[i] + (1 - (double)b2) * g[i] * g[i];
                    double mhat = rm[i] / (1 - Math.Pow((double)b1, step));
                    double vhat = rv[i] / (1 - Math.Pow((double)b2, step));
                    rp[i] -= (double)lr * mhat / (Math.Sqrt(vhat) + eps);
                }
                KernelTesting.AllClose(rp, p, 1e-5, 1e-6, $"param n={n} step={step}");
                KernelTesting.AllClose(rm, m, 1e-5, 1e-7, $"m n={n} step={step}");
                KernelTesting.AllClose(rv, v, 1e-5, 1e-9, $"v n={n} step={step}");
            }
        }
    }
}

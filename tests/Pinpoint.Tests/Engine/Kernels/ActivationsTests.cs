using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class ActivationsTests
{
    private static double Value(Activation f, double x) => f switch
    {
        Activation.Silu => x / (1 + Math.Exp(-x)),
        Activation.Gelu => 0.5 * x * (1 + KernelTesting.Erf(x / Math.Sqrt(2))),
        _ => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
    };

    private static double Derivative(Activation f, double x)
    {
        switch (f)
        {
            case Activation.Silu:
                double s = 1 / (1 + Math.Exp(-x));
                return s * (1 + x * (1 - s));
            case Activation.Gelu:
                return 0.5 * (1 + KernelTesting.Erf(x / Math.Sqrt(2))) + x * Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
            default:
                double k = Math.Sqrt(2 / Math.PI);
                double th = Math.Tanh(k * (x + 0.044715 * x * x * x));
                return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x);
        }
    }

    public static TheoryData<KernelPath, Activation> Cases
    {
        get
        {
            var data = new TheoryData<KernelPath, Activation>();
            foreach (var p in KernelPaths.Supported)
                foreach (var f in Enum.GetValues<Activation>()) data.Add(p, f);
            return data;
        }
    }

    private static float[] Inputs(int n)
    {
        var rng = new Random(5);
        float[] extremes = [0f, 1e-20f, -1e-20f, 20f, -20f, 1e4f, -1e4f, 3e38f, -3e38f];
        return [.. extremes, .. KernelTesting.Random(rng, n, 6)];
    }

    // Absolute slack covers erf's 2.5e-7 (scaled by x) and cancellation in the negative tails.
    private const double Rel = 2e-6, Abs = 2e-6;

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchDoubleReference(KernelPath path, Activation f)
    {
        var x = Inputs(200);
        var y = new float[x.Length];
        Activations.Forward(f, x, y, path);
        KernelTesting.AllClose(x.Select(v => Value(f, v)).ToArray(), y, Rel, Abs, $"{f}");

        var gy = KernelTesting.Random(new Random(6), x.Length, 1);
        var gx = Enumerable.Repeat(0.5f, x.Length).ToArray();
        Activations.Backward(f, x, gy, gx, path);
        KernelTesting.AllClose(x.Select((v, i) => 0.5 + gy[i] * Derivative(f, v)).ToArray(), gx, Rel, Abs, $"{f}'");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GatedFormsMatchDoubleReference(KernelPath path, Activation f)
    {
        var rng = new Random(8);
        foreach (var n in KernelTesting.Lengths)
        {
            var gate = KernelTesting.Random(rng, n, 5);
            var up = KernelTesting.Random(rng, n, 2);
            var gy = KernelTesting.Random(rng, n, 1);
            var y = new float[n];
            Activations.GatedForward(f, gate, up, y, path);
            KernelTesting.AllClose(gate.Select((g, i) => Value(f, g) * up[i]).ToArray(), y, Rel, Abs, $"{f} gated n={n}");

            var gGate = new float[n];
            var gUp = Enumerable.Repeat(1f, n).ToArray();
            Activations.GatedBackward(f, gate, up, gy, gGate, gUp, path);
            KernelTesting.AllClose(gate.Select((g, i) => gy[i] * up[i] * Derivative(f, g)).ToArray(), gGate, Rel, Abs, $"{f} gated d/dgate n={n}");
            KernelTesting.AllClose(gate.Select((g, i) => 1 + gy[i] * Value(f, g)).ToArray(), gUp, Rel, Abs, $"{f} gated d/dup n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void ExactGeluNegativeTailKeepsRelativeAccuracy(KernelPath path)
    {
        // x·Φ(x) down to float's smallest normal numbers; 1 + erf(x/√2) would cancel to noise here.
        var x = Enumerable.Range(0, 380).Select(i => -1.5f - i * 0.03f).ToArray();
        var y = new float[x.Length];
        Activations.Forward(Activation.Gelu, x, y, path);
        for (int i = 0; i < x.Length; i++)
            KernelTesting.Close(0.5 * x[i] * KernelTesting.Erfc(-x[i] / Math.Sqrt(2)), y[i], 2e-6, 1e-44, $"gelu({x[i]:G9})");
    }

    [Fact]
    public void MissingOutputsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Activations.Backward(Activation.Silu, new float[4], new float[4], []));
        Assert.Throws<ArgumentException>(() => Activations.Forward(Activation.Gelu, new float[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Activations.GatedForward(Activation.Gelu, new float[4], new float[5], new float[4]));
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>
/// Ops large enough to split their rows across the worker pool must give exactly the bits of one sequential pass of
/// their kernels (rows are independent; cross-row sums stay in row order).
/// </summary>
public class RowParallelTests
{
    // 300 rows of 1000: above the split threshold, and neither a multiple of any vector width nor of the thread count.
    private const int Rows = 300, Width = 1000;

    private static (Tape Tape, Compute Cx, Tensor X) Input(int seed)
    {
        var x = GradCheck.Random(new Random(seed), 3f, Rows, Width);
        x.RequiresGrad = true;
        var tape = new Tape();
        return (tape, new Compute(tape), x);
    }

    private static float[] RandomArray(int seed, int n) => GradCheck.Random(new Random(seed), 1f, n).ToArray();

    [Fact]
    public void SoftmaxAndLogSoftmaxMatchSequentialRows()
    {
        foreach (bool log in new[] { false, true })
        {
            var (tape, cx, x) = Input(1);
            var y = log ? cx.LogSoftmax(x) : cx.Softmax(x);
            var gy = RandomArray(2, Rows * Width);
            tape.Backward(y, Tensor.FromArray(gy, Rows, Width));

            var xs = x.ToArray();
            var ey = new float[xs.Length];
            var egx = new float[xs.Length];
            for (int o = 0; o < xs.Length; o += Width)
            {
                if (log) Softmax.LogForward(xs.AsSpan(o, Width), ey.AsSpan(o, Width));
                else Softmax.Forward(xs.AsSpan(o, Width), ey.AsSpan(o, Width));
                if (log) Softmax.LogBackward(ey.AsSpan(o, Width), gy.AsSpan(o, Width), egx.AsSpan(o, Width));
                else Softmax.Backward(ey.AsSpan(o, Width), gy.AsSpan(o, Width), egx.AsSpan(o, Width));
            }
            Assert.Equal(ey, y.ToArray());
            Assert.Equal(egx, x.Grad!.ToArray());
        }
    }

    [Fact]
    public void LayerNormMatchesSequentialRows()
    {
        var (tape, cx, x) = Input(3);
        var w = Tensor.FromArray(RandomArray(4, Width), Width);
        var b = Tensor.FromArray(RandomArray(5, Width), Width);
        w.RequiresGrad = b.RequiresGrad = true;
        var y = cx.LayerNorm(x, w, b, 1e-5f);
        var gy = RandomArray(6, Rows * Width);
        tape.Backward(y, Tensor.FromArray(gy, Rows, Width));

        var xs = x.ToArray();
        var ws = w.ToArray();
        var bs = b.ToArray();
        var ey = new float[xs.Length];
        var egx = new float[xs.Length];
        var egw = new float[Width];
        var egb = new float[Width];
        for (int o = 0; o < xs.Length; o += Width)
        {
            float rstd = Normalization.Forward(xs.AsSpan(o, Width), ws, 0f, bs, 1e-5f, true, ey.AsSpan(o, Width), out float mean);
            Normalization.Backward(xs.AsSpan(o, Width), gy.AsSpan(o, Width), ws, 0f, true, mean, rstd, egx.AsSpan(o, Width), egw, egb);
        }
        Assert.Equal(ey, y.ToArray());
        Assert.Equal(egx, x.Grad!.ToArray());
        Assert.Equal(egw, w.Grad!.ToArray());
        Assert.Equal(egb, b.Grad!.ToArray());
    }

    [Fact]
    public void ActivationsMatchOneSequentialCall()
    {
        var (tape, cx, x) = Input(7);
        var up = Tensor.FromArray(RandomArray(8, Rows * Width), Rows, Width);
        up.RequiresGrad = true;
        var y = cx.GeluTanh(x);
        var gated = cx.Gated(x, up, Activation.Silu);
        var gy = RandomArray(9, Rows * Width);
        var gg = RandomArray(10, Rows * Width);
        // d(sum(y·gy + gated·gg)) sends exactly gy and gg back into the two ops.
        tape.Backward(cx.Sum(cx.Add(cx.Mul(y, Tensor.FromArray(gy, Rows, Width)), cx.Mul(gated, Tensor.FromArray(gg, Rows, Width)))));

        var xs = x.ToArray();
        var us = up.ToArray();
        var ey = new float[xs.Length];
        var eg = new float[xs.Length];
        var egx = new float[xs.Length];
        var egu = new float[xs.Length];
        Activations.Forward(Activation.GeluTanh, xs, ey);
        Activations.GatedForward(Activation.Silu, xs, us, eg);
        Activations.GatedBackward(Activation.Silu, xs, us, gg, egx, egu);
        Activations.Backward(Activation.GeluTanh, xs, gy, egx);
        Assert.Equal(ey, y.ToArray());
        Assert.Equal(eg, gated.ToArray());
        Assert.Equal(egu, up.Grad!.ToArray());
        Assert.Equal(egx, x.Grad!.ToArray());
    }

    [Fact]
    public void CrossEntropyMatchesSequentialRows()
    {
        var (tape, cx, x) = Input(11);
        var rng = new Random(12);
        var targets = Enumerable.Range(0, Rows).Select(r => r % 7 == 3 ? -100 : rng.Next(Width)).ToArray();
        var loss = cx.CrossEntropy(x, targets, ignoreIndex: -100);
        tape.Backward(loss);

        var xs = x.ToArray();
        var egx = new float[xs.Length];
        double total = 0;
        int count = targets.Count(t => t != -100);
        for (int r = 0; r < Rows; r++)
        {
            if (targets[r] == -100) continue;
            var row = xs.AsSpan(r * Width, Width);
            var (max, logSum) = Softmax.LogSumExpParts(row);
            total += (double)max - row[targets[r]] + logSum;
            var g = egx.AsSpan(r * Width, Width);
            Softmax.AccumulateExp(row, max, logSum, 1f / count, g);
            g[targets[r]] -= 1f / count;
        }
        Assert.Equal((float)(total / count), loss.ToScalar());
        Assert.Equal(egx, x.Grad!.ToArray());
    }
}

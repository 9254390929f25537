using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class ConcatOpTests
{
    private static Tensor Iota(float start, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = start + i;
        return t;
    }

    [Fact]
    public void JoinsAlongMiddleAxis()
    {
        var a = Iota(0, 2, 1, 3);
        var b = Iota(100, 2, 2, 3);
        foreach (int axis in new[] { 1, -2 })
        {
            var y = Compute.Eager.Concat([a, b], axis);
            Assert.Equal([2, 3, 3], y.Shape.ToArray());
            for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++)
                Assert.Equal(j == 0 ? a[i, 0, k] : b[i, j - 1, k], y[i, j, k]);
        }
    }

    [Fact]
    public void JoinsAlongFirstAndLastAxes()
    {
        var a = Iota(0, 2, 3);
        var b = Iota(10, 1, 3);
        Assert.Equal([0f, 1, 2, 3, 4, 5, 10, 11, 12], Compute.Eager.Concat([a, b], 0).ToArray());
        var c = Iota(20, 2, 1);
        Assert.Equal([0f, 1, 2, 20, 3, 4, 5, 21], Compute.Eager.Concat([a, c], -1).ToArray());
    }

    [Fact]
    public void SinglePartAndEmptyPartsAreAllowed()
    {
        var a = Iota(1, 2, 3);
        Assert.Equal(a.ToArray(), Compute.Eager.Concat([a], 1).ToArray());
        var y = Compute.Eager.Concat([Tensor.Zeros(2, 0), a, Tensor.Zeros(2, 0)], 1);
        Assert.Equal(a.ToArray(), y.ToArray());
        Assert.Equal([2, 0], Compute.Eager.Concat([Tensor.Zeros(2, 0), Tensor.Zeros(2, 0)], 1).Shape.ToArray());
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(31);
        var a = GradCheck.Random(rng, 1, 2, 3, 4);
        var b = GradCheck.Random(rng, 1, 2, 1, 4);
        var c = GradCheck.Random(rng, 1, 2, 2, 4);
        var empty = Tensor.Zeros(2, 0, 4);
        a.RequiresGrad = b.RequiresGrad = c.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Concat([x[0], x[3], x[1], x[2]], 1), [a, b, c, empty]);
        GradCheck.Check((cx, x) => cx.Concat([x[0], x[1], x[2]], -2), [a, b, c]);
        // A part appearing twice receives both gradients.
        GradCheck.Check((cx, x) => cx.Concat([x[0], x[0]], 0), [a]);
        GradCheck.Check((cx, x) => cx.Concat([x[0], x[0]], 2), [a]);
    }

    [Fact]
    public void GradientReachesStridedViews()
    {
        var rng = new Random(32);
        var a = GradCheck.Random(rng, 1, 4, 3);
        var b = GradCheck.Random(rng, 1, 2, 4);
        a.RequiresGrad = b.RequiresGrad = true;
        // a transposed is [3, 4], a non-contiguous view.
        GradCheck.Check((cx, x) => cx.Concat([cx.Transpose(x[0], 0, 1), x[1]], 0), [a, b]);
    }

    [Fact]
    public void OnlyPartsNeedingGradientsReceiveThem()
    {
        var a = Iota(0, 2, 2);
        var b = Iota(4, 2, 2);
        b.RequiresGrad = true;
        var tape = new Tape();
        var y = new Compute(tape).Concat([a, b], 1);
        Assert.True(y.RequiresGrad);
        tape.Backward(y, Iota(0, 2, 4));
        Assert.Null(a.Grad);
        Assert.Equal([2f, 3, 6, 7], b.Grad!.ToArray());
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Concat([Tensor.Zeros(2, 3), Tensor.Zeros(3, 3)], 1));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[3, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Concat([Tensor.Zeros(2, 3), Tensor.Zeros(2, 3, 1)], 0));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[2, 3, 1]", ex.Message);
    }

    [Fact]
    public void RejectsBadAxisAndEmptyList()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Concat([Tensor.Zeros(2, 3)], 2));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => Compute.Eager.Concat([Tensor.Zeros(2, 3)], -3));
        Assert.Throws<ArgumentException>(() => Compute.Eager.Concat([], 0));
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class MulOpTests
{
    [Fact]
    public void GradientSameShapeBroadcastAndSquare()
    {
        var rng = new Random(1);
        var a = GradCheck.Random(rng, 1, 3, 4, 5);
        var b = GradCheck.Random(rng, 1, 3, 4, 5);
        var c = GradCheck.Random(rng, 1, 4, 5);
        a.RequiresGrad = b.RequiresGrad = c.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Mul(x[0], x[1]), [a, b]);
        GradCheck.Check((cx, x) => cx.Mul(x[0], x[1]), [a, c]);
        GradCheck.Check((cx, x) => cx.Mul(x[0], x[0]), [a]);
    }

    [Fact]
    public void BroadcastsASuffix()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        Assert.Equal([10f, 40f, 30f, 80f], Compute.Eager.Mul(a, Tensor.FromArray([10f, 20f], 2)).ToArray());
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Mul(Tensor.Zeros(2, 3), Tensor.Zeros(2)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[2]", ex.Message);
    }
}

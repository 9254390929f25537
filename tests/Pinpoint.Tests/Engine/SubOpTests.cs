using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class SubOpTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(2);
        var a = GradCheck.Random(rng, 1, 3, 17);
        var b = GradCheck.Random(rng, 1, 17);
        a.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Sub(x[0], x[1]), [a, b]);
    }

    [Fact]
    public void BroadcastsASuffix()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        Assert.Equal([-9f, -18f, -7f, -16f], Compute.Eager.Sub(a, Tensor.FromArray([10f, 20f], 2)).ToArray());
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Sub(Tensor.Zeros(2, 3), Tensor.Zeros(3, 3)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[3, 3]", ex.Message);
    }
}

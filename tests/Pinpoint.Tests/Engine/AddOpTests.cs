using Pinpoint.Engine.Ops;

namespace Pinpoint.Tests.Engine;

public class AddOpTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(1);
        var a = GradCheck.Random(rng, 1, 3, 4, 5);
        var b = GradCheck.Random(rng, 1, 5);
        a.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Add(x[0], x[1]), [a, b]);
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Pinpoint.Engine.Autograd.Compute.Eager.Add(Pinpoint.Engine.Tensors.Tensor.Zeros(2, 3), Pinpoint.Engine.Tensors.Tensor.Zeros(4)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }
}

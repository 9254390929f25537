using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class ScaleOpTests
{
    [Fact]
    public void ValueAndGradient()
    {
        Assert.Equal([0.5f, 1f, 1.5f], Compute.Eager.Scale(Tensor.FromArray([1f, 2f, 3f], 3), 0.5f).ToArray());
        var x = GradCheck.Random(new Random(3), 1, 3, 17);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Scale(t[0], -2.5f), [x]);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class SoftmaxOpTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(1), 3, 2, 3, 19);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Softmax(t[0]), [x]);
    }

    [Fact]
    public void ExtremeRowsStayFinite()
    {
        var x = Tensor.FromArray([3e38f, -3e38f, 0f, 1e4f, -1e4f, 1e4f, 5f, 5f, 5f], 3, 3);
        var p = Compute.Eager.Softmax(x).ToArray();
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.Equal([1f, 0f, 0f, 0.5f, 0f, 0.5f], p[..6]);
        Assert.All(p[6..], v => Assert.Equal(1f / 3, v, 1e-7f));
    }
}

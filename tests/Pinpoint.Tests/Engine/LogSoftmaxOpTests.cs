using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class LogSoftmaxOpTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(1), 3, 2, 3, 19);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.LogSoftmax(t[0]), [x]);
    }

    [Fact]
    public void ExtremeRowsStayFinite()
    {
        var x = Tensor.FromArray([3e38f, -3e38f, 0f, 1e4f, -1e4f, 1e4f, 5f, 5f, 5f], 3, 3);
        var lp = Compute.Eager.LogSoftmax(x).ToArray();
        Assert.All(lp, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(0f, lp[0]);
        Assert.Equal(-float.MaxValue, lp[1]);
        Assert.Equal(-MathF.Log(2), lp[3], 1e-6f);
        Assert.Equal(-2e4f - MathF.Log(2), lp[4], 4e-3f);
        Assert.All(lp[6..], v => Assert.Equal(-MathF.Log(3), v, 1e-6f));
    }
}

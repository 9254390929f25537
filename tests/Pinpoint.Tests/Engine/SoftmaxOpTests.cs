using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>Softmax and LogSoftmax over the last axis.</summary>
public class SoftmaxOpTests
{
    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(1), 3, 2, 3, 19);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Softmax(t[0]), [x]);
        GradCheck.Check((cx, t) => cx.LogSoftmax(t[0]), [x]);
    }

    [Fact]
    public void ExtremeRowsStayFinite()
    {
        var x = Tensor.FromArray([3e38f, -3e38f, 0f, 1e4f, -1e4f, 1e4f, 5f, 5f, 5f], 3, 3);
        var p = Compute.Eager.Softmax(x).ToArray();
        var lp = Compute.Eager.LogSoftmax(x).ToArray();
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.All(lp, v => Assert.True(float.IsFinite(v)));
        Assert.Equal([1f, 0f, 0f, 0.5f, 0f, 0.5f], p[..6]);
        Assert.All(p[6..], v => Assert.Equal(1f / 3, v, 1e-7f));
        Assert.Equal(-MathF.Log(2), lp[3], 1e-6f);
    }
}

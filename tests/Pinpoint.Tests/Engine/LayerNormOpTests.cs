using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class LayerNormOpTests
{
    [Fact]
    public void GradientsWithAndWithoutBias()
    {
        var rng = new Random(1);
        var x = GradCheck.Random(rng, 2, 2, 3, 20);
        var w = GradCheck.Random(rng, 1, 20);
        var b = GradCheck.Random(rng, 1, 20);
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.LayerNorm(t[0], t[1], t[2], 1e-5f), [x, w, b]);
        GradCheck.Check((cx, t) => cx.LayerNorm(t[0], t[1], null, 1e-5f), [x, w]);
    }

    [Fact]
    public void RstdIsExposedPerRow()
    {
        var x = Tensor.FromArray([1f, 3f, 1f, 3f, 0f, 4f], 1, 2, 3);
        var y = Compute.Eager.LayerNorm(x, Tensor.Full(1f, 3), null, 0f, out var rstd);
        Assert.Equal([1, 2, 1], rstd.Shape.ToArray());
        Assert.Equal(1 / MathF.Sqrt(8f / 9), rstd.ToArray()[0], 1e-6f);
        Assert.Equal(1 / MathF.Sqrt(78f / 27), rstd.ToArray()[1], 1e-6f);
        Assert.Equal(0f, y.ToArray()[..3].Sum(), 1e-6f);
    }

    [Fact]
    public void MismatchedWeightNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.LayerNorm(Tensor.Zeros(2, 5), Tensor.Zeros(4), null, 1e-5f));
        Assert.Contains("[2, 5]", ex.Message);
        Assert.Contains("[4]", ex.Message);
    }
}

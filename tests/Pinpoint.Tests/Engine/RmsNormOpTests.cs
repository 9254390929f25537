using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class RmsNormOpTests
{
    [Fact]
    public void GradientsPlainAndUnitOffset()
    {
        var rng = new Random(2);
        var x = GradCheck.Random(rng, 2, 4, 19);
        var w = GradCheck.Random(rng, 1, 19);
        x.RequiresGrad = w.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.RmsNorm(t[0], t[1], 1e-6f), [x, w]);
        GradCheck.Check((cx, t) => cx.RmsNorm(t[0], t[1], 1e-6f, unitOffset: true), [x, w]);
    }

    [Fact]
    public void UnitOffsetScalesByOnePlusWeightAndExposesRstd()
    {
        var x = Tensor.FromArray([1f, 3f, 1f], 1, 3);
        var y = Compute.Eager.RmsNorm(x, Tensor.Zeros(3), 0f, unitOffset: true, out var rstd);
        float r = 1 / MathF.Sqrt(11f / 3);
        Assert.Equal(r, rstd.ToScalar(), 1e-6f);
        Assert.Equal([r, 3 * r, r], y.ToArray());
    }

    [Fact]
    public void MismatchedWeightNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.RmsNorm(Tensor.Zeros(2, 5), Tensor.Zeros(6), 1e-6f));
        Assert.Contains("[2, 5]", ex.Message);
        Assert.Contains("[6]", ex.Message);
    }
}

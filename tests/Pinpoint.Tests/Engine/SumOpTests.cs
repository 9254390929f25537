using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>Sum and Mean to a scalar.</summary>
public class SumOpTests
{
    [Fact]
    public void ValuesAreRankZero()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        Assert.Equal(21f, Compute.Eager.Sum(a).ToScalar());
        Assert.Equal(3.5f, Compute.Eager.Mean(a).ToScalar());
        Assert.Equal(0, Compute.Eager.Sum(a).Rank);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(3), 1, 5, 7);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Sum(t[0]), [x]);
        GradCheck.Check((cx, t) => cx.Mean(t[0]), [x]);
    }

    [Fact]
    public void MeanOfNothingIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Mean(Tensor.Zeros(0, 3)));
        Assert.Contains("[0, 3]", ex.Message);
    }
}

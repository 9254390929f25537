using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>Mul, Sub, Scale, Sum and Mean.</summary>
public class ElementwiseOpTests
{
    [Fact]
    public void MulGradientSameShapeAndBroadcast()
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
    public void SubAndScaleGradients()
    {
        var rng = new Random(2);
        var a = GradCheck.Random(rng, 1, 3, 17);
        var b = GradCheck.Random(rng, 1, 17);
        a.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Sub(x[0], x[1]), [a, b]);
        GradCheck.Check((cx, x) => cx.Scale(x[0], -2.5f), [a]);
    }

    [Fact]
    public void SumAndMeanValuesAndGradients()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        Assert.Equal(21f, Compute.Eager.Sum(a).ToScalar());
        Assert.Equal(3.5f, Compute.Eager.Mean(a).ToScalar());
        Assert.Equal(0, Compute.Eager.Sum(a).Rank);
        var x = GradCheck.Random(new Random(3), 1, 5, 7);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Sum(t[0]), [x]);
        GradCheck.Check((cx, t) => cx.Mean(t[0]), [x]);
    }

    [Fact]
    public void ValuesMatchDefinitions()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var b = Tensor.FromArray([10f, 20f], 2);
        Assert.Equal([10f, 40f, 30f, 80f], Compute.Eager.Mul(a, b).ToArray());
        Assert.Equal([-9f, -18f, -7f, -16f], Compute.Eager.Sub(a, b).ToArray());
        Assert.Equal([0.5f, 1f, 1.5f, 2f], Compute.Eager.Scale(a, 0.5f).ToArray());
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Mul(Tensor.Zeros(2, 3), Tensor.Zeros(2)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[2]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Sub(Tensor.Zeros(2, 3), Tensor.Zeros(3, 3)));
        Assert.Contains("[3, 3]", ex.Message);
    }
}

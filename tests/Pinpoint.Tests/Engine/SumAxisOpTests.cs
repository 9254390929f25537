using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class SumAxisOpTests
{
    /// <summary>Sum over one axis in double precision, by walking every element.</summary>
    private static double[] Reference(Tensor x, int axis)
    {
        var shape = x.Shape.ToArray();
        int outer = shape[..axis].Aggregate(1, (p, d) => p * d), n = shape[axis], inner = shape[(axis + 1)..].Aggregate(1, (p, d) => p * d);
        var y = new double[outer * inner];
        var s = x.Span;
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < n; j++)
        for (int i = 0; i < inner; i++)
            y[o * inner + i] += s[(o * n + j) * inner + i];
        return y;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(-1)]
    [InlineData(-2)]
    public void MatchesReference(int axis)
    {
        var x = GradCheck.Random(new Random(41), 1, 2, 3, 5, 17);
        var y = Compute.Eager.SumAxis(x, axis);
        int ax = axis < 0 ? axis + 4 : axis;
        var expected = x.Shape.ToArray().Where((_, i) => i != ax).ToArray();
        Assert.Equal(expected, y.Shape.ToArray());
        var r = Reference(x, ax);
        var ys = y.Span;
        for (int i = 0; i < r.Length; i++) Assert.True(Math.Abs(ys[i] - r[i]) < 1e-5, $"element {i}: {ys[i]} vs {r[i]}");
    }

    [Fact]
    public void HeadResultsSumToResidualShape()
    {
        // [B, T, H, d] summed over heads gives [B, T, d].
        var x = Tensor.Full(1f, 2, 3, 4, 5);
        var y = Compute.Eager.SumAxis(x, 2);
        Assert.Equal([2, 3, 5], y.Shape.ToArray());
        Assert.All(y.ToArray(), v => Assert.Equal(4f, v));
    }

    [Fact]
    public void RankOneGivesScalarAndEmptyAxisGivesZeros()
    {
        var s = Compute.Eager.SumAxis(Tensor.FromArray([1f, 2, 3], 3), 0);
        Assert.Equal(0, s.Rank);
        Assert.Equal(6f, s.ToScalar());
        var z = Compute.Eager.SumAxis(Tensor.Zeros(2, 0, 3), 1);
        Assert.Equal([2, 3], z.Shape.ToArray());
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(42);
        var x = GradCheck.Random(rng, 1, 2, 3, 4, 5);
        x.RequiresGrad = true;
        foreach (int axis in new[] { 0, 2, -1 })
            GradCheck.Check((cx, t) => cx.SumAxis(t[0], axis), [x]);
        GradCheck.Check((cx, t) => cx.SumAxis(cx.Transpose(t[0], 1, 3), 1), [x]);
        var v = GradCheck.Random(rng, 1, 7);
        v.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.SumAxis(t[0], 0), [v]);
    }

    [Fact]
    public void RejectsAxisOutsideShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.SumAxis(Tensor.Zeros(2, 3), 2));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Throws<ArgumentException>(() => Compute.Eager.SumAxis(Tensor.Zeros(2, 3), -3));
        Assert.Throws<ArgumentException>(() => Compute.Eager.SumAxis(Tensor.Scalar(1f), 0));
    }
}

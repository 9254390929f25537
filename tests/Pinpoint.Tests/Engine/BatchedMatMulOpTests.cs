using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class BatchedMatMulOpTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientMatchesFiniteDifferences(bool transposeB)
    {
        var rng = new Random(1);
        var a = GradCheck.Random(rng, 1, 3, 4, 5);
        var b = GradCheck.Random(rng, 1, transposeB ? [3, 6, 5] : [3, 5, 6]);
        a.RequiresGrad = b.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.BatchedMatMul(x[0], x[1], transposeB), [a, b]);
    }

    [Fact]
    public void EachBatchItemIsAnIndependentProduct()
    {
        var rng = new Random(2);
        var a = GradCheck.Random(rng, 1, 4, 6, 9);
        var b = GradCheck.Random(rng, 1, 4, 11, 9);
        var y = Compute.Eager.BatchedMatMul(a, b, transposeB: true);
        Assert.Equal([4, 6, 11], y.Shape.ToArray());
        for (int i = 0; i < 4; i++)
        {
            var expected = MatMulOpTests.Reference(a.Select(0, i).ToArray(), b.Select(0, i).ToArray(), 6, 11, 9, transposeB: true);
            MatMulOpTests.AssertClose(expected, y.Select(0, i));
        }
    }

    [Fact]
    public void ShapeMismatchNamesBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.BatchedMatMul(Tensor.Zeros(2, 3, 4), Tensor.Zeros(2, 5, 6)));
        Assert.Contains("[2, 3, 4]", ex.Message);
        Assert.Contains("[2, 5, 6]", ex.Message);
    }
}

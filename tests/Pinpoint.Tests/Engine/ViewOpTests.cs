using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>Copy-free views (and the copy that makes them contiguous) route gradients back into their source.</summary>
public class ViewOpTests
{
    private static Tensor Input()
    {
        var x = GradCheck.Random(new Random(2), 1, 3, 4, 5);
        x.RequiresGrad = true;
        return x;
    }

    // Each view is followed by a Mul with itself so the loss is nonlinear in the viewed elements.
    private static Tensor Square(Compute cx, Tensor t) => cx.Mul(cx.Contiguous(t), cx.Contiguous(t));

    [Fact]
    public void SliceGradient() => GradCheck.Check((cx, x) => Square(cx, cx.Slice(x[0], 1, 1, 2)), [Input()]);

    [Fact]
    public void TransposeGradient() => GradCheck.Check((cx, x) => Square(cx, cx.Transpose(x[0], 0, 2)), [Input()]);

    [Fact]
    public void ReshapeGradient() => GradCheck.Check((cx, x) => Square(cx, cx.Reshape(x[0], 12, 5)), [Input()]);

    [Fact]
    public void ReshapeOfTransposedViewGradient() =>
        GradCheck.Check((cx, x) => Square(cx, cx.Reshape(cx.Transpose(x[0], 1, 2), 3, 20)), [Input()]);

    [Fact]
    public void OverlappingViewsAccumulate() =>
        GradCheck.Check((cx, x) => cx.Add(Square(cx, cx.Slice(x[0], 2, 0, 3)), Square(cx, cx.Slice(x[0], 2, 2, 3))), [Input()]);

    [Fact]
    public void ViewsOutOfRangeThrow()
    {
        var t = Tensor.Zeros(3, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(1, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Select(0, 3));
        Assert.Throws<ArgumentException>(() => t.View(5, 3));
        Assert.Throws<InvalidOperationException>(() => t.Transpose(0, 1).View(12));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Tensor(t.Storage, 4, [3, 4]));
    }
}

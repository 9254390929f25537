using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>s·x for a constant s.</summary>
    public static Tensor Scale(this Compute cx, Tensor x, float s)
    {
        x = cx.Contiguous(x);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        Elementwise.Scale(x.Span, s, y.Span);
        if (y.RequiresGrad)
            cx.Tape!.Record(() => Elementwise.ScaleAccumulate(cx.GradOf(y), s, cx.GradOf(x)));
        return y;
    }
}

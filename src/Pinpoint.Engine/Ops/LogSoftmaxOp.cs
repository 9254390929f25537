using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Log-softmax over the last axis; saturates at -float.MaxValue instead of -inf.</summary>
    public static Tensor LogSoftmax(this Compute cx, Tensor x)
    {
        x = cx.Contiguous(x);
        ShapeCheck.MinRank(nameof(LogSoftmax), x, 1);
        int d = x.Dim(-1);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        ForEachRow(x.Size, d, o => Kernels.Softmax.LogForward(x.Span.Slice(o, d), y.Span.Slice(o, d)));
        if (y.RequiresGrad)
            cx.Tape!.Record(() => ForEachRow(x.Size, d, o =>
                Kernels.Softmax.LogBackward(y.Span.Slice(o, d), cx.GradOf(y).Slice(o, d), cx.GradOf(x).Slice(o, d))));
        return y;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Σx over all elements, as a rank-0 tensor.</summary>
    public static Tensor Sum(this Compute cx, Tensor x) => ReduceAll(cx, x, 1f);

    /// <summary>Mean of all elements, as a rank-0 tensor.</summary>
    public static Tensor Mean(this Compute cx, Tensor x)
    {
        if (x.Size == 0) throw new ArgumentException($"Mean: {x.Describe()} has no elements");
        return ReduceAll(cx, x, 1f / x.Size);
    }

    /// <summary>scale·Σx; the backward step spreads scale·gy over every element.</summary>
    private static Tensor ReduceAll(Compute cx, Tensor x, float scale)
    {
        x = cx.Contiguous(x);
        var y = cx.Output([], zeroed: false, x);
        y.Span[0] = Elementwise.Sum(x.Span) * scale;
        if (y.RequiresGrad)
            cx.Tape!.Record(() => Elementwise.AddConstant(cx.GradOf(x), cx.GradOf(y)[0] * scale));
        return y;
    }
}

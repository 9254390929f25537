using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// An edited copy of <paramref name="x"/>: y = <paramref name="values"/>, where elements with
    /// <paramref name="assigned"/> = 1 were overwritten (their gradient to x is 0) and the others differ from x by a
    /// constant (their gradient passes to x unchanged). Values and mask are constants.
    /// </summary>
    public static Tensor Assign(this Compute cx, Tensor x, Tensor values, Tensor assigned)
    {
        ShapeCheck.Same(nameof(Assign), x, values);
        ShapeCheck.Same(nameof(Assign), x, assigned);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        values.CopyTo(y.Span);
        if (y.RequiresGrad)
        {
            var mask = assigned.Contiguous();
            cx.Tape!.Record(() =>
            {
                ReadOnlySpan<float> gy = cx.GradOf(y), m = mask.Span;
                var gx = cx.GradOf(x);
                for (int i = 0; i < gx.Length; i++) gx[i] += gy[i] * (1f - m[i]);
            });
        }
        return y;
    }
}

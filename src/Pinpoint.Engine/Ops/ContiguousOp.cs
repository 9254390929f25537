using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// <paramref name="t"/> itself when it is contiguous F32, else a copy whose gradient flows back into <paramref name="t"/>.
    /// Ops call this on their inputs so strided views of parameters still receive gradients.
    /// </summary>
    public static Tensor Contiguous(this Compute cx, Tensor t)
    {
        if (t.IsContiguous && t.DType == DType.F32) return t;
        var output = cx.Output(t.Shape.ToArray(), zeroed: false, t);
        t.CopyTo(output.Span);
        if (output.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                var gy = cx.GradOf(output);
                var gx = cx.GradOf(t);
                for (int i = 0; i < gx.Length; i++) gx[i] += gy[i];
            });
        }
        return output;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Softmax over the last axis (max-subtracted: finite for rows of any magnitude).</summary>
    public static Tensor Softmax(this Compute cx, Tensor x) => RowSoftmax(cx, nameof(Softmax), x, log: false);

    /// <summary>Shared by Softmax and LogSoftmax: one kernel call per last-axis row, rows split across threads when large.</summary>
    private static Tensor RowSoftmax(Compute cx, string op, Tensor x, bool log)
    {
        x = cx.Contiguous(x);
        ShapeCheck.MinRank(op, x, 1);
        int d = x.Dim(-1);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        int rows = d == 0 ? 0 : x.Size / d;
        RowParallel.For(rows, d, (x, y, d, log), static (s, r0, r1) =>
        {
            ReadOnlySpan<float> xs = s.x.Span;
            var ys = s.y.Span;
            for (int o = r0 * s.d; o < r1 * s.d; o += s.d)
            {
                if (s.log) Kernels.Softmax.LogForward(xs.Slice(o, s.d), ys.Slice(o, s.d));
                else Kernels.Softmax.Forward(xs.Slice(o, s.d), ys.Slice(o, s.d));
            }
        });
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // Gradient buffers are created here, on the recording thread; the workers only use them.
                cx.GradOf(y);
                cx.GradOf(x);
                RowParallel.For(rows, d, (x, y, d, log), static (s, r0, r1) =>
                {
                    ReadOnlySpan<float> ys = s.y.Span, gy = s.y.Grad!.Span;
                    var gx = s.x.Grad!.Span;
                    for (int o = r0 * s.d; o < r1 * s.d; o += s.d)
                    {
                        if (s.log) Kernels.Softmax.LogBackward(ys.Slice(o, s.d), gy.Slice(o, s.d), gx.Slice(o, s.d));
                        else Kernels.Softmax.Backward(ys.Slice(o, s.d), gy.Slice(o, s.d), gx.Slice(o, s.d));
                    }
                });
            });
        }
        return y;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Softmax over the last axis (max-subtracted: finite for rows of any magnitude).</summary>
    public static Tensor Softmax(this Compute cx, Tensor x)
    {
        x = cx.Contiguous(x);
        ShapeCheck.MinRank(nameof(Softmax), x, 1);
        int d = x.Dim(-1);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        ForEachRow(x.Size, d, o => Kernels.Softmax.Forward(x.Span.Slice(o, d), y.Span.Slice(o, d)));
        if (y.RequiresGrad)
            cx.Tape!.Record(() => ForEachRow(x.Size, d, o =>
                Kernels.Softmax.Backward(y.Span.Slice(o, d), cx.GradOf(y).Slice(o, d), cx.GradOf(x).Slice(o, d))));
        return y;
    }

    /// <summary>Runs <paramref name="row"/> with the offset of each length-<paramref name="d"/> row.</summary>
    private static void ForEachRow(int size, int d, Action<int> row)
    {
        if (d == 0) return;
        for (int o = 0; o < size; o += d) row(o);
    }
}

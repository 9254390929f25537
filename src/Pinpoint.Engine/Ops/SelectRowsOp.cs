using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Gathers rows of <paramref name="x"/> along axis 0: x [N, d] (or [N, ...]) gives [rows.Length, d] (or
    /// [rows.Length, ...]) with output row i = x[rows[i]], e.g. the last real position of each sequence of a batch
    /// flattened to [B·T, d]. Rows may repeat; the backward pass scatter-adds, so repeated rows sum their gradients.
    /// </summary>
    public static Tensor SelectRows(this Compute cx, Tensor x, int[] rows)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rows);
        if (x.Rank < 1) throw new ArgumentException($"SelectRows: expected at least rank 1, got {x.Describe()}", nameof(x));
        int n = x.Dim(0);
        for (int i = 0; i < rows.Length; i++)
            if ((uint)rows[i] >= (uint)n)
                throw new ArgumentException($"SelectRows: row index {rows[i]} (entry {i}) is outside axis 0 of {x.Describe()}", nameof(rows));
        // The backward pass reads the indices later: keep a copy the caller cannot change.
        var index = (int[])rows.Clone();
        var shape = x.Shape.ToArray();
        shape[0] = index.Length;
        int width = n == 0 ? 0 : x.Size / n;
        if (width == 0 || index.Length == 0) return cx.Output(shape, zeroed: false, x);
        x = cx.Contiguous(x);
        var y = cx.Output(shape, zeroed: false, x);
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < index.Length; i++) xs.Slice(index[i] * width, width).CopyTo(ys.Slice(i * width, width));

        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                if (!cx.NeedsGrad(x)) return;
                var gy = cx.GradOf(y);
                var gx = cx.GradOf(x);
                for (int i = 0; i < index.Length; i++)
                {
                    var dst = gx.Slice(index[i] * width, width);
                    TensorPrimitives.Add(dst, gy.Slice(i * width, width), dst);
                }
            });
        }
        return y;
    }
}

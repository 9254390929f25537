using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Rows of <paramref name="table"/> [V, d] picked by <paramref name="ids"/>, as [n, d]. F16/BF16 and quantized
    /// tables are converted row by row, so a memory-mapped table is never widened whole. The backward step scatter-adds
    /// into the table's gradient rows (or records the rows for a <see cref="FactoredGradient"/>).
    /// </summary>
    public static Tensor Embedding(this Compute cx, Tensor table, int[] ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ShapeCheck.Rank(nameof(Embedding), table, 2);
        if (!table.IsContiguous) table = cx.Contiguous(table);
        int vocab = table.Dim(0), d = table.Dim(1);
        foreach (var id in ids)
            if ((uint)id >= (uint)vocab)
                throw new ArgumentException($"Embedding: token id {id} is outside the vocabulary of size {vocab} ({table.Describe()})", nameof(ids));
        var rows = (int[])ids.Clone();
        var y = cx.Output([rows.Length, d], zeroed: false, table);
        var ys = y.Span;
        for (int r = 0; r < rows.Length; r++)
            table.Select(0, rows[r]).CopyTo(ys.Slice(r * d, d));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                ReadOnlySpan<float> gy = cx.GradOf(y);
                if (cx.Tape.FactorsOf(table) is { } factors)
                {
                    factors.AddLookup(rows, gy);
                    return;
                }
                var gt = cx.GradOf(table);
                for (int r = 0; r < rows.Length; r++)
                    Elementwise.AddScaled(gt.Slice(rows[r] * d, d), gy.Slice(r * d, d), 1f, gt.Slice(rows[r] * d, d));
            });
        }
        return y;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Joins tensors along <paramref name="axis"/> (negative counts from the end). Every part has the same rank and
    /// the same sizes on all other axes; parts of length 0 on the axis are allowed. The gradient is split back into
    /// the parts.
    /// </summary>
    public static Tensor Concat(this Compute cx, IReadOnlyList<Tensor> parts, int axis)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("Concat: needs at least one tensor", nameof(parts));
        var first = parts[0] ?? throw new ArgumentNullException(nameof(parts), "Concat: part 0 is null");
        int rank = first.Rank;
        int ax = axis < 0 ? axis + rank : axis;
        if ((uint)ax >= (uint)rank)
            throw new ArgumentException($"Concat: axis {axis} is outside {first.Describe()}", nameof(axis));

        var shape = first.Shape.ToArray();
        int total = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            var p = parts[i] ?? throw new ArgumentNullException(nameof(parts), $"Concat: part {i} is null");
            if (!ConcatSameExceptAxis(first, p, ax))
                throw new ArgumentException($"Concat: shape mismatch along axes other than {ax} between part 0 {first.Describe()} and part {i} {p.Describe()}");
            total = checked(total + p.Shape[ax]);
        }
        shape[ax] = total;

        int outer = 1, inner = 1;
        for (int i = 0; i < ax; i++) outer *= shape[i];
        for (int i = ax + 1; i < rank; i++) inner *= shape[i];
        int outRow = total * inner;

        // Empty parts contribute nothing and are never read (a tensor with a zero-length axis may not report itself
        // contiguous, so it is not copied either).
        var inputs = new Tensor[parts.Count];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = parts[i].Size == 0 ? parts[i] : cx.Contiguous(parts[i]);
        var y = cx.Output(shape, zeroed: false, inputs);
        // An empty output has no gradient to pass back.
        if (y.Size == 0) return y;

        var ys = y.Span;
        int at = 0;
        foreach (var p in inputs)
        {
            int row = p.Shape[ax] * inner;
            if (row == 0) continue;
            var ps = p.Span;
            for (int o = 0; o < outer; o++) ps.Slice(o * row, row).CopyTo(ys.Slice(o * outRow + at, row));
            at += row;
        }

        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                var gy = cx.GradOf(y);
                int offset = 0;
                foreach (var p in inputs)
                {
                    int row = p.Shape[ax] * inner;
                    if (cx.NeedsGrad(p) && row > 0)
                    {
                        var gp = cx.GradOf(p);
                        for (int o = 0; o < outer; o++)
                        {
                            var dst = gp.Slice(o * row, row);
                            TensorPrimitives.Add(dst, gy.Slice(o * outRow + offset, row), dst);
                        }
                    }
                    offset += row;
                }
            });
        }
        return y;
    }

    private static bool ConcatSameExceptAxis(Tensor a, Tensor b, int axis)
    {
        if (a.Rank != b.Rank) return false;
        for (int i = 0; i < a.Rank; i++)
            if (i != axis && a.Shape[i] != b.Shape[i]) return false;
        return true;
    }
}

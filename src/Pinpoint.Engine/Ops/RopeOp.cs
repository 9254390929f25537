using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Rotary position embedding of q or k laid out [batch, seq, heads, headDim] or [seq, heads, headDim]. Token t sits
    /// at position <paramref name="positionOffset"/> + t (KV-cache decoding), or at <paramref name="positionOffset"/> +
    /// <paramref name="positions"/>[t] (seq entries) or [b·seq + t] (batch·seq entries, e.g. left padding).
    /// Dimensions past <see cref="RopeTable.RotaryDim"/> pass through unchanged.
    /// </summary>
    public static Tensor Rope(this Compute cx, Tensor x, RopeTable table, int positionOffset = 0, int[]? positions = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (x.Rank is not (3 or 4))
            throw new ArgumentException($"Rope: expected [batch, seq, heads, headDim] or [seq, heads, headDim], got {x.Describe()}");
        x = cx.Contiguous(x);
        int batch = x.Rank == 4 ? x.Dim(0) : 1, seq = x.Dim(-3), heads = x.Dim(-2), headDim = x.Dim(-1);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        Kernels.Rope.Apply(x.Span, y.Span, batch, seq, heads, headDim, table, positions, positionOffset);
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // The rotation is orthogonal, so its transpose (rotation by −angle) carries the gradient back.
                var rotated = cx.AllocateUninitialized(x.Shape.ToArray());
                Kernels.Rope.Apply(cx.GradOf(y), rotated.Span, batch, seq, heads, headDim, table, positions, positionOffset, inverse: true);
                var gx = cx.GradOf(x);
                TensorPrimitives.Add(gx, rotated.Span, gx);
            });
        }
        return y;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Sums over <paramref name="axis"/> (negative counts from the end) and removes it, e.g. [B, T, H, d] summed
    /// over axis 2 gives [B, T, d]. Summing a rank-1 tensor gives a rank-0 scalar; an empty axis sums to 0.
    /// The gradient is broadcast back along the removed axis.
    /// </summary>
    public static Tensor SumAxis(this Compute cx, Tensor x, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rank = x.Rank;
        int ax = axis < 0 ? axis + rank : axis;
        if ((uint)ax >= (uint)rank)
            throw new ArgumentException($"SumAxis: axis {axis} is outside {x.Describe()}", nameof(axis));
        var shape = new int[rank - 1];
        int outer = 1, inner = 1, n = x.Shape[ax];
        for (int i = 0, j = 0; i < rank; i++)
        {
            if (i == ax) continue;
            shape[j++] = x.Shape[i];
            if (i < ax) outer *= x.Shape[i];
            else inner *= x.Shape[i];
        }

        // An empty input sums to zeros (and has no gradient to receive); it is never read.
        if (x.Size == 0) return cx.Output(shape, zeroed: Tensor.Product(shape) > 0, x);
        x = cx.Contiguous(x);
        var y = cx.Output(shape, zeroed: false, x);
        SumAxisForward(x.Span, y.Span, outer, n, inner);

        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                if (!cx.NeedsGrad(x)) return;
                SumAxisBackward(cx.GradOf(y), cx.GradOf(x), outer, n, inner);
            });
        }
        return y;
    }

    /// <summary>y[o, i] = Σ_j x[o, j, i] for x laid out [outer, n, inner] (n ≥ 1).</summary>
    internal static void SumAxisForward(ReadOnlySpan<float> x, Span<float> y, int outer, int n, int inner)
    {
        int block = n * inner;
        if (inner == 1)
        {
            // Summing the last axis: one vectorized reduction per row.
            for (int o = 0; o < outer; o++) y[o] = TensorPrimitives.Sum(x.Slice(o * n, n));
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            var dst = y.Slice(o * inner, inner);
            var src = x.Slice(o * block, block);
            src[..inner].CopyTo(dst);
            for (int j = 1; j < n; j++) TensorPrimitives.Add(dst, src.Slice(j * inner, inner), dst);
        }
    }

    /// <summary>gx[o, j, i] += gy[o, i].</summary>
    internal static void SumAxisBackward(ReadOnlySpan<float> gy, Span<float> gx, int outer, int n, int inner)
    {
        int block = n * inner;
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var dst = gx.Slice(o * n, n);
                TensorPrimitives.Add(dst, gy[o], dst);
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            var src = gy.Slice(o * inner, inner);
            for (int j = 0; j < n; j++)
            {
                var dst = gx.Slice(o * block + j * inner, inner);
                TensorPrimitives.Add(dst, src, dst);
            }
        }
    }
}

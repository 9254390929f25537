using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise a + b, or a + b broadcast over leading axes when b's shape is a suffix of a's (biases).</summary>
    public static Tensor Add(this Compute cx, Tensor a, Tensor b)
    {
        a = cx.Contiguous(a);
        b = cx.Contiguous(b);
        int inner = b.Size;
        if (!IsSuffixShape(a, b))
            throw new ArgumentException($"Add: shape mismatch between {a.Describe()} and {b.Describe()} (b must equal a or a suffix of it)");
        var y = cx.Output(a.Shape.ToArray(), zeroed: false, a, b);
        var ys = y.Span;
        var asp = a.Span;
        var bs = b.Span;
        for (int o = 0; o < asp.Length; o += inner)
            TensorPrimitives.Add(asp.Slice(o, inner), bs, ys.Slice(o, inner));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                var gy = cx.GradOf(y);
                if (cx.NeedsGrad(a)) TensorPrimitives.Add(cx.GradOf(a), gy, cx.GradOf(a));
                if (cx.NeedsGrad(b))
                {
                    var gb = cx.GradOf(b);
                    for (int o = 0; o < gy.Length; o += inner) TensorPrimitives.Add(gb, gy.Slice(o, inner), gb);
                }
            });
        }
        return y;
    }

    private static bool IsSuffixShape(Tensor a, Tensor b)
    {
        if (b.Rank > a.Rank) return false;
        return a.Shape[(a.Rank - b.Rank)..].SequenceEqual(b.Shape);
    }
}

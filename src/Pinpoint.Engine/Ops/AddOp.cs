using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise a + b, or a + b broadcast over leading axes when b's shape is a suffix of a's (biases).</summary>
    public static Tensor Add(this Compute cx, Tensor a, Tensor b)
    {
        var y = SuffixBroadcastOutput(cx, nameof(Add), ref a, ref b, out int inner);
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

    /// <summary>
    /// Shared by the binary ops that broadcast b over a's leading axes: makes both operands contiguous, checks that
    /// b's shape equals a's or a suffix of it, and allocates the output shaped like a. <paramref name="inner"/> is
    /// b's size, the length of each block of a that b lines up with.
    /// </summary>
    private static Tensor SuffixBroadcastOutput(Compute cx, string op, ref Tensor a, ref Tensor b, out int inner)
    {
        a = cx.Contiguous(a);
        b = cx.Contiguous(b);
        if (b.Rank > a.Rank || !a.Shape[(a.Rank - b.Rank)..].SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shape mismatch between {a.Describe()} and {b.Describe()} (b must equal a or a suffix of it)");
        inner = b.Size;
        return cx.Output(a.Shape.ToArray(), zeroed: false, a, b);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise a·b, or b broadcast over leading axes when b's shape is a suffix of a's (gains, masks).</summary>
    public static Tensor Mul(this Compute cx, Tensor a, Tensor b)
    {
        var y = SuffixBroadcastOutput(cx, nameof(Mul), ref a, ref b, out int inner);
        var ys = y.Span;
        var asp = a.Span;
        var bs = b.Span;
        for (int o = 0; o < asp.Length; o += inner)
            Elementwise.Multiply(asp.Slice(o, inner), bs, ys.Slice(o, inner));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                ReadOnlySpan<float> gy = cx.GradOf(y);
                ReadOnlySpan<float> av = a.Span, bv = b.Span;
                for (int o = 0; o < gy.Length; o += inner)
                {
                    if (cx.NeedsGrad(a)) Elementwise.MultiplyAccumulate(gy.Slice(o, inner), bv, cx.GradOf(a).Slice(o, inner));
                    if (cx.NeedsGrad(b)) Elementwise.MultiplyAccumulate(gy.Slice(o, inner), av.Slice(o, inner), cx.GradOf(b));
                }
            });
        }
        return y;
    }
}

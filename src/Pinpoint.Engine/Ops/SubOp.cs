using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise a - b, or b broadcast over leading axes when b's shape is a suffix of a's.</summary>
    public static Tensor Sub(this Compute cx, Tensor a, Tensor b)
    {
        var y = SuffixBroadcastOutput(cx, nameof(Sub), ref a, ref b, out int inner);
        var ys = y.Span;
        var asp = a.Span;
        var bs = b.Span;
        for (int o = 0; o < asp.Length; o += inner)
            Elementwise.AddScaled(asp.Slice(o, inner), bs, -1f, ys.Slice(o, inner));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                ReadOnlySpan<float> gy = cx.GradOf(y);
                if (cx.NeedsGrad(a)) Elementwise.AddScaled(cx.GradOf(a), gy, 1f, cx.GradOf(a));
                if (cx.NeedsGrad(b))
                {
                    var gb = cx.GradOf(b);
                    for (int o = 0; o < gy.Length; o += inner) Elementwise.ScaleAccumulate(gy.Slice(o, inner), -1f, gb);
                }
            });
        }
        return y;
    }
}

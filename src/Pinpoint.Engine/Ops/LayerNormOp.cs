using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>LayerNorm over the last axis: (x - mean)·rstd·weight + bias; <paramref name="bias"/> may be null.</summary>
    public static Tensor LayerNorm(this Compute cx, Tensor x, Tensor weight, Tensor? bias, float eps)
        => Normalize(cx, nameof(LayerNorm), x, weight, bias, eps, center: true, weightOffset: 0f, out _);

    /// <summary>
    /// LayerNorm that also returns each row's rstd = 1/√(var + eps), shaped like x with a last axis of 1. It is a
    /// plain (non-differentiable) tensor for hooks; TransformerLens's hook_scale holds its reciprocal, √(var + eps).
    /// </summary>
    public static Tensor LayerNorm(this Compute cx, Tensor x, Tensor weight, Tensor? bias, float eps, out Tensor rstd)
        => Normalize(cx, nameof(LayerNorm), x, weight, bias, eps, center: true, weightOffset: 0f, out rstd);

    /// <summary>
    /// Shared by LayerNorm and RMSNorm: y = (x - mean)·rstd·(weight + weightOffset) + bias per last-axis row,
    /// mean = 0 when not centering.
    /// </summary>
    private static Tensor Normalize(Compute cx, string op, Tensor x, Tensor weight, Tensor? bias, float eps, bool center,
        float weightOffset, out Tensor rstd)
    {
        x = cx.Contiguous(x);
        weight = cx.Contiguous(weight);
        bias = bias is null ? null : cx.Contiguous(bias);
        ShapeCheck.MinRank(op, x, 1);
        int d = x.Dim(-1);
        ShapeCheck.Rank(op, weight, 1);
        ShapeCheck.LastDim(op, weight, d, $"weight for input {x.Describe()}");
        if (bias is not null)
        {
            ShapeCheck.Rank(op, bias, 1);
            ShapeCheck.LastDim(op, bias, d, $"bias for input {x.Describe()}");
        }
        if (d == 0) throw new ArgumentException($"{op}: cannot normalize empty rows of {x.Describe()}");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{op}: eps must be non-negative");

        var rowShape = x.Shape.ToArray();
        rowShape[^1] = 1;
        var stats = cx.Allocate(rowShape);
        var means = cx.Allocate(rowShape);
        var y = bias is null ? cx.Output(x.Shape.ToArray(), zeroed: false, x, weight) : cx.Output(x.Shape.ToArray(), zeroed: false, x, weight, bias);
        ForEachRow(x.Size, d, o =>
        {
            var b = bias is null ? default : bias.Span;
            stats.Span[o / d] = Normalization.Forward(x.Span.Slice(o, d), weight.Span, weightOffset, b, eps, center,
                y.Span.Slice(o, d), out means.Span[o / d]);
        });
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() => ForEachRow(x.Size, d, o =>
            {
                int r = o / d;
                Normalization.Backward(x.Span.Slice(o, d), cx.GradOf(y).Slice(o, d), weight.Span, weightOffset, center,
                    means.Span[r], stats.Span[r],
                    cx.NeedsGrad(x) ? cx.GradOf(x).Slice(o, d) : default,
                    cx.NeedsGrad(weight) ? cx.GradOf(weight) : default,
                    bias is not null && cx.NeedsGrad(bias) ? cx.GradOf(bias) : default);
            }));
        }
        rstd = stats;
        return y;
    }
}

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
        int rows = x.Size / d;
        var norm = new NormRows(x, weight, bias, weightOffset, eps, center, y, means, stats);
        RowParallel.For(rows, d, norm, static (s, r0, r1) =>
        {
            var b = s.Bias is null ? default : s.Bias.Span;
            ReadOnlySpan<float> xs = s.X.Span, w = s.Weight.Span;
            Span<float> ys = s.Y.Span, means = s.Means.Span, stats = s.Stats.Span;
            int d = w.Length;
            for (int r = r0; r < r1; r++)
                stats[r] = Normalization.Forward(xs.Slice(r * d, d), w, s.WeightOffset, b, s.Eps, s.Center, ys.Slice(r * d, d), out means[r]);
        });
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // Gradient buffers are created here, on the recording thread; the workers only use them.
                cx.GradOf(y);
                var gx = cx.NeedsGrad(x) ? cx.GradOf(x) : default;
                var gw = cx.NeedsGrad(weight) ? cx.GradOf(weight) : default;
                var gb = bias is not null && cx.NeedsGrad(bias) ? cx.GradOf(bias) : default;
                bool parallel = RowParallel.IsParallel(rows, d);
                // dx rows are independent and may be split across threads; dw and db sum over rows, so they are
                // accumulated on this thread in row order, exactly as in a single pass.
                if (parallel && !gx.IsEmpty)
                    RowParallel.For(rows, d, norm, static (s, r0, r1) => s.Backward(r0, r1, dx: true, dw: default, db: default));
                if (!parallel || !gw.IsEmpty || !gb.IsEmpty)
                    norm.Backward(0, rows, dx: !parallel && !gx.IsEmpty, gw, gb);
            });
        }
        rstd = stats;
        return y;
    }

    /// <summary>The tensors and settings of one normalization, for row ranges run on any thread.</summary>
    private sealed record NormRows(Tensor X, Tensor Weight, Tensor? Bias, float WeightOffset, float Eps, bool Center,
        Tensor Y, Tensor Means, Tensor Stats)
    {
        /// <summary>Backward over rows [r0, r1): into X's gradient when <paramref name="dx"/>, and into dw/db when non-empty.</summary>
        public void Backward(int r0, int r1, bool dx, Span<float> dw, Span<float> db)
        {
            ReadOnlySpan<float> xs = X.Span, gy = Y.Grad!.Span, w = Weight.Span, means = Means.Span, stats = Stats.Span;
            var gx = dx ? X.Grad!.Span : default;
            int d = w.Length;
            for (int r = r0; r < r1; r++)
            {
                Normalization.Backward(xs.Slice(r * d, d), gy.Slice(r * d, d), w, WeightOffset, Center, means[r], stats[r],
                    dx ? gx.Slice(r * d, d) : default, dw, db);
            }
        }
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Mean over rows of -log softmax(logits)[target], for logits [n, V] and n targets; rows whose target equals
    /// <paramref name="ignoreIndex"/> are left out (loss 0 when all are). Log-softmax is fused and max-subtracted,
    /// so huge logits stay finite; the loss saturates at float.MaxValue. Backward: (softmax - onehot)/count.
    /// With <paramref name="weights"/> (one non-negative weight per row) the mean is weighted, Σ wᵣ·lossᵣ / Σ wᵣ, and
    /// each row's gradient is scaled by wᵣ / Σ wᵣ: a way to make rare positions (say, article choices) count more.
    /// </summary>
    public static Tensor CrossEntropy(this Compute cx, Tensor logits, int[] targets, int? ignoreIndex = null, float[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        logits = cx.Contiguous(logits);
        ShapeCheck.Rank(nameof(CrossEntropy), logits, 2);
        int n = logits.Dim(0), vocab = logits.Dim(1);
        if (targets.Length != n)
            throw new ArgumentException($"CrossEntropy: {targets.Length} targets for logits {logits.Describe()}", nameof(targets));
        var rows = (int[])targets.Clone();
        if (weights is not null && weights.Length != n)
            throw new ArgumentException($"CrossEntropy: {weights.Length} weights for logits {logits.Describe()}", nameof(weights));
        var rowWeights = weights is null ? null : (float[])weights.Clone();
        if (rowWeights is not null && !rowWeights.All(w => w >= 0 && float.IsFinite(w)))
            throw new ArgumentException("CrossEntropy: weights must be finite and non-negative", nameof(weights));
        var maxes = new float[n];
        var logSums = new float[n];
        for (int r = 0; r < n; r++)
        {
            int t = rows[r];
            if (t != ignoreIndex && (uint)t >= (uint)vocab)
                throw new ArgumentException($"CrossEntropy: target {t} of row {r} is outside the vocabulary of size {vocab} ({logits.Describe()})", nameof(targets));
        }
        // Rows are independent and may run on several threads; the loss sums them afterwards, in row order.
        RowParallel.For(n, vocab, (logits, rows, maxes, logSums, ignoreIndex, vocab), static (s, r0, r1) =>
        {
            ReadOnlySpan<float> all = s.logits.Span;
            for (int r = r0; r < r1; r++)
            {
                if (s.rows[r] == s.ignoreIndex) continue;
                (s.maxes[r], s.logSums[r]) = Kernels.Softmax.LogSumExpParts(all.Slice(r * s.vocab, s.vocab));
            }
        });
        ReadOnlySpan<float> values = logits.Span;
        double total = 0, count = 0;
        for (int r = 0; r < n; r++)
        {
            int t = rows[r];
            if (t == ignoreIndex) continue;
            double weight = rowWeights?[r] ?? 1;
            // In double: max - logit can exceed float's range when logits span it.
            if (weight > 0) total += weight * ((double)maxes[r] - values[r * vocab + t] + logSums[r]);
            count += weight;
        }
        var loss = cx.Output([], zeroed: false, logits);
        loss.Span[0] = count == 0 ? 0f : (float)Math.Min(total / count, float.MaxValue);
        if (loss.RequiresGrad && count > 0)
        {
            cx.Tape!.Record(() =>
            {
                float scale = (float)(cx.GradOf(loss)[0] / count);
                cx.GradOf(logits); // created here, on the recording thread; the workers only use it
                RowParallel.For(n, vocab, (logits, rows, rowWeights, maxes, logSums, ignoreIndex, vocab, scale), static (s, r0, r1) =>
                {
                    ReadOnlySpan<float> all = s.logits.Span;
                    var gx = s.logits.Grad!.Span;
                    for (int r = r0; r < r1; r++)
                    {
                        float rowScale = s.scale * (s.rowWeights?[r] ?? 1f);
                        if (s.rows[r] == s.ignoreIndex || rowScale == 0) continue;
                        var g = gx.Slice(r * s.vocab, s.vocab);
                        Kernels.Softmax.AccumulateExp(all.Slice(r * s.vocab, s.vocab), s.maxes[r], s.logSums[r], rowScale, g);
                        g[s.rows[r]] -= rowScale;
                    }
                });
            });
        }
        return loss;
    }
}

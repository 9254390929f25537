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
    /// </summary>
    public static Tensor CrossEntropy(this Compute cx, Tensor logits, int[] targets, int? ignoreIndex = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        logits = cx.Contiguous(logits);
        ShapeCheck.Rank(nameof(CrossEntropy), logits, 2);
        int n = logits.Dim(0), vocab = logits.Dim(1);
        if (targets.Length != n)
            throw new ArgumentException($"CrossEntropy: {targets.Length} targets for logits {logits.Describe()}", nameof(targets));
        var rows = (int[])targets.Clone();
        var maxes = new float[n];
        var logSums = new float[n];
        double total = 0;
        int count = 0;
        for (int r = 0; r < n; r++)
        {
            int t = rows[r];
            if (t == ignoreIndex) continue;
            if ((uint)t >= (uint)vocab)
                throw new ArgumentException($"CrossEntropy: target {t} of row {r} is outside the vocabulary of size {vocab} ({logits.Describe()})", nameof(targets));
            var row = logits.Span.Slice(r * vocab, vocab);
            (maxes[r], logSums[r]) = Kernels.Softmax.LogSumExpParts(row);
            // In double: max - logit can exceed float's range when logits span it.
            total += (double)maxes[r] - row[t] + logSums[r];
            count++;
        }
        var loss = cx.Output([], zeroed: false, logits);
        loss.Span[0] = count == 0 ? 0f : (float)Math.Min(total / count, float.MaxValue);
        if (loss.RequiresGrad && count > 0)
        {
            cx.Tape!.Record(() =>
            {
                float scale = cx.GradOf(loss)[0] / count;
                var gx = cx.GradOf(logits);
                for (int r = 0; r < n; r++)
                {
                    if (rows[r] == ignoreIndex) continue;
                    var g = gx.Slice(r * vocab, vocab);
                    Kernels.Softmax.AccumulateExp(logits.Span.Slice(r * vocab, vocab), maxes[r], logSums[r], scale, g);
                    g[rows[r]] -= scale;
                }
            });
        }
        return loss;
    }
}

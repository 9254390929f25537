using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// A scalar computed from the logits [batch, length, vocab] with <paramref name="cx"/>'s ops, so that a
/// <see cref="Trace"/> can differentiate it. It must return a one-element tensor.
/// </summary>
public delegate Tensor Metric(Compute cx, Tensor logits);

/// <summary>Common metrics, read at the last position of the first sequence.</summary>
public static class Metrics
{
    /// <summary>logit(target) − logit(foil): the usual "which answer does the model prefer" measure.</summary>
    public static Metric LogitDiff(int target, int foil) => (cx, logits) =>
    {
        var last = LastRow(cx, logits);
        return cx.Sub(cx.Slice(last, 0, target, 1), cx.Slice(last, 0, foil, 1));
    };

    /// <summary>The logit of one token.</summary>
    public static Metric Logit(int token) => (cx, logits) => cx.Slice(LastRow(cx, logits), 0, token, 1);

    /// <summary>log p(token), through the full softmax.</summary>
    public static Metric LogProb(int token) => (cx, logits) => cx.Slice(cx.LogSoftmax(LastRow(cx, logits)), 0, token, 1);

    /// <summary>The vocabulary row [vocab] of the last position of sequence 0.</summary>
    public static Tensor LastRow(Compute cx, Tensor logits) =>
        cx.Reshape(cx.Slice(cx.Slice(logits, 0, 0, 1), 1, logits.Dim(1) - 1, 1), logits.Dim(2));
}

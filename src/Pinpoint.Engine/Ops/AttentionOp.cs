using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

/// <summary>Optional settings of <see cref="TensorOps.Attention"/>; the default is plain causal self-attention.</summary>
public readonly record struct AttentionOptions
{
    /// <summary>[batch, keys] row-major, true for real tokens; padded keys get probability 0. Null: all keys are real.</summary>
    public bool[]? KeyMask { get; init; }

    /// <summary>Absolute position of query 0 among the keys. Null: keys − queries, i.e. the queries are the newest keys.</summary>
    public int? QueryOffset { get; init; }

    /// <summary>Logit scale. Null: 1/√headDim.</summary>
    public float? Scale { get; init; }

    /// <summary>Also return the scaled, masked logits (hook_attn_scores).</summary>
    public bool ReturnScores { get; init; }

    /// <summary>Also return the probabilities (hook_pattern).</summary>
    public bool ReturnPattern { get; init; }
}

/// <summary>
/// Attention output z, plus scores and pattern ([batch, queryHeads, queries, keys], or without batch for rank-3
/// inputs) when asked for. Scores and pattern are copies for inspection: no gradient flows through them, and
/// editing them does not change z.
/// </summary>
public readonly record struct AttentionResult(Tensor Z, Tensor? Scores, Tensor? Pattern);

public static partial class TensorOps
{
    /// <summary>
    /// Causal grouped-query attention. q is [batch, queries, queryHeads, headDim], k and v are
    /// [batch, keys, kvHeads, headDim] (or all three without the batch axis); queryHeads must be a multiple of kvHeads.
    /// </summary>
    public static AttentionResult Attention(this Compute cx, Tensor q, Tensor k, Tensor v, AttentionOptions options = default)
    {
        if (q.Rank is not (3 or 4) || k.Rank != q.Rank || v.Rank != q.Rank || !k.SameShape(v))
            throw new ArgumentException($"Attention: expected q [batch, queries, heads, headDim] and k, v [batch, keys, kvHeads, headDim] (batch optional), got {q.Describe()}, {k.Describe()}, {v.Describe()}");
        bool batched = q.Rank == 4;
        int batch = batched ? q.Dim(0) : 1;
        if (batched && k.Dim(0) != batch)
            throw new ArgumentException($"Attention: batch of {q.Describe()} differs from {k.Describe()}");
        ShapeCheck.LastDim("Attention", k, q.Dim(-1), "k");
        q = cx.Contiguous(q);
        k = cx.Contiguous(k);
        v = cx.Contiguous(v);
        int queries = q.Dim(-3), keys = k.Dim(-3), headDim = q.Dim(-1);
        var shape = new AttentionShape(batch, queries, keys, q.Dim(-2), k.Dim(-2), headDim,
            options.QueryOffset ?? keys - queries, options.Scale ?? 1f / MathF.Sqrt(headDim));
        shape.Validate();

        int[] patternShape = batched ? [batch, shape.QueryHeads, queries, keys] : [shape.QueryHeads, queries, keys];
        var scores = options.ReturnScores ? cx.AllocateUninitialized(patternShape) : null;
        var pattern = options.ReturnPattern ? cx.AllocateUninitialized(patternShape) : null;
        var z = cx.Output(q.Shape.ToArray(), zeroed: false, q, k, v);
        var mask = options.KeyMask;
        var scratch = cx.AllocateUninitialized(Kernels.Attention.ScratchLength(shape));
        Kernels.Attention.Forward(shape, q.Span, k.Span, v.Span, mask, z.Span,
            scores is null ? default : scores.Span, pattern is null ? default : pattern.Span, scratch.Span);

        if (z.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // Probabilities are recomputed block by block rather than kept from the forward pass.
                var backwardScratch = cx.AllocateUninitialized(Kernels.Attention.ScratchLength(shape));
                Kernels.Attention.Backward(shape, q.Span, k.Span, v.Span, mask, cx.GradOf(z),
                    cx.NeedsGrad(q) ? cx.GradOf(q) : default,
                    cx.NeedsGrad(k) ? cx.GradOf(k) : default,
                    cx.NeedsGrad(v) ? cx.GradOf(v) : default,
                    backwardScratch.Span);
            });
        }
        return new AttentionResult(z, scores, pattern);
    }
}

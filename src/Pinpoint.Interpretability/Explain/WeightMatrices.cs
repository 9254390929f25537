using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>What the rows or the columns of a weight matrix index.</summary>
public enum WeightAxis { Residual, HeadDimension, Token, Position, Neuron }

/// <summary>
/// A weight matrix the TransformerLens way round, [in, out] — W_E [vocab, d_model], W_Q[h] [d_model, d_head],
/// W_O[h] [d_head, d_model], W_in [d_model, d_mlp], W_out [d_mlp, d_model], W_U [d_model, vocab] — as a window
/// onto the tensor the model stores, whatever its layout: per-head matrices are slices of the full (or fused) projection.
/// </summary>
/// <param name="Weight">The stored tensor: [in, out], or [out, in] when <paramref name="OutIn"/>.</param>
/// <param name="Layer">The block the matrix belongs to; -1 for embeddings and unembedding.</param>
public sealed record WeightMatrix(string Name, int Layer, Tensor Weight, bool OutIn, int InStart, int Rows, int OutStart, int Columns,
    WeightAxis RowAxis, WeightAxis ColumnAxis)
{
    /// <summary>The [Rows, Columns] window of <paramref name="stored"/> (the weight itself or its gradient), without copying.</summary>
    public Tensor Window(Tensor stored) => OutIn
        ? stored.Slice(0, OutStart, Columns).Slice(1, InStart, Rows).Transpose(0, 1)
        : stored.Slice(0, InStart, Rows).Slice(1, OutStart, Columns);

    /// <summary>The matrix as F32 values, [Rows, Columns] row-major.</summary>
    public float[] ToArray() => Window(Weight).ToArray();
}

/// <summary>Every weight matrix of a model, under TransformerLens names (biases and norm weights are vectors, not listed).</summary>
public static class WeightMatrices
{
    public static IEnumerable<WeightMatrix> All(TransformerConfig c, TransformerWeights w)
    {
        yield return new WeightMatrix("embed.W_E", -1, w.Embedding, false, 0, w.Embedding.Dim(0), 0, c.DModel, WeightAxis.Token, WeightAxis.Residual);
        if (w.PositionEmbedding is { } pos)
            yield return new WeightMatrix("pos_embed.W_pos", -1, pos, false, 0, pos.Dim(0), 0, c.DModel, WeightAxis.Position, WeightAxis.Residual);
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) yield return Query(c, w, l, h);
            for (int g = 0; g < c.NKvHeads; g++)
            {
                yield return KeyOrValue(c, w, l, g, value: false);
                yield return KeyOrValue(c, w, l, g, value: true);
            }
            for (int h = 0; h < c.NHeads; h++) yield return Output(c, w, l, h);
            if (w.Blocks[l].Mlp is not { } mlp) continue;
            // TransformerLens calls a gated MLP's gate projection (our In, producing hook_pre) W_gate and its up projection W_in.
            yield return Columns($"blocks.{l}.mlp.{(mlp.Up is null ? "W_in" : "W_gate")}", l, mlp.In, 0, c.DMlp, WeightAxis.Residual, WeightAxis.Neuron);
            if (mlp.Up is not null) yield return Columns($"blocks.{l}.mlp.W_in", l, mlp.Up, 0, c.DMlp, WeightAxis.Residual, WeightAxis.Neuron);
            yield return Rows($"blocks.{l}.mlp.W_out", l, mlp.Out, 0, c.DMlp, WeightAxis.Neuron, WeightAxis.Residual);
        }
        // A tied unembedding is W_E itself: its rows are already listed (and each row is both a token's embedding and unembedding).
        if (!ReferenceEquals(w.Unembed.Weight, w.Embedding))
            yield return Columns("unembed.W_U", -1, w.Unembed, 0, c.VocabSize, WeightAxis.Residual, WeightAxis.Token);
    }

    /// <summary>W_Q[h]: [d_model, d_head].</summary>
    public static WeightMatrix Query(TransformerConfig c, TransformerWeights w, int layer, int head)
    {
        var a = w.Blocks[layer].Attention;
        return Columns($"blocks.{layer}.attn.W_Q[h{head}]", layer, a.Qkv ?? a.Q!, head * c.DHead, c.DHead, WeightAxis.Residual, WeightAxis.HeadDimension);
    }

    /// <summary>W_K[g] or W_V[g] of key/value head <paramref name="group"/>: [d_model, d_head] (query heads share it under grouped-query attention).</summary>
    public static WeightMatrix KeyOrValue(TransformerConfig c, TransformerWeights w, int layer, int group, bool value)
    {
        var a = w.Blocks[layer].Attention;
        int qWidth = c.NHeads * c.DHead, kvWidth = c.NKvHeads * c.DHead;
        var (linear, start) = a.Qkv is { } fused
            ? (fused, qWidth + (value ? kvWidth : 0) + group * c.DHead)
            : ((value ? a.V : a.K)!, group * c.DHead);
        return Columns($"blocks.{layer}.attn.{(value ? "W_V" : "W_K")}[h{group}]", layer, linear, start, c.DHead, WeightAxis.Residual, WeightAxis.HeadDimension);
    }

    /// <summary>W_O[h]: [d_head, d_model].</summary>
    public static WeightMatrix Output(TransformerConfig c, TransformerWeights w, int layer, int head) =>
        Rows($"blocks.{layer}.attn.W_O[h{head}]", layer, w.Blocks[layer].Attention.O, head * c.DHead, c.DHead, WeightAxis.HeadDimension, WeightAxis.Residual);

    /// <summary>All inputs of a linear map, output features [start, start+count).</summary>
    private static WeightMatrix Columns(string name, int layer, Linear linear, int start, int count, WeightAxis rows, WeightAxis columns) =>
        new(name, layer, linear.Weight, linear.OutIn, 0, linear.InFeatures, start, count, rows, columns);

    /// <summary>Input features [start, start+count) of a linear map, all outputs.</summary>
    private static WeightMatrix Rows(string name, int layer, Linear linear, int start, int count, WeightAxis rows, WeightAxis columns) =>
        new(name, layer, linear.Weight, linear.OutIn, start, count, 0, linear.OutFeatures, rows, columns);
}

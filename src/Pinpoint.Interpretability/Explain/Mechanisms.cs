using System.Text.Json.Serialization;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

public sealed record AttendedToken(int Position, string Token, double Weight);

public sealed record TokenScore(string Token, double Score);

/// <summary>
/// How a head acts at the answer position: where it looks, which tokens its actual output pushes up, and what its
/// weights alone (the OV circuit) do with the token it attends to most.
/// </summary>
/// <param name="Pattern">[query][key]: the head's whole attention pattern over the prompt, for drawing it (the last row is where <paramref name="AttendsTo"/> comes from).</param>
public sealed record HeadMechanism(
    [property: JsonPropertyName("component")] Component Head, IReadOnlyList<AttendedToken> AttendsTo, IReadOnlyList<TokenScore> Promotes,
    [property: JsonPropertyName("ov_circuit")] OvCircuit Ov, [property: JsonIgnore] double[][] Pattern);

/// <summary>How a neuron acts: the tokens whose embeddings excite it most, and the tokens its output pushes up and down.</summary>
public sealed record NeuronMechanism([property: JsonPropertyName("component")] Component Neuron, double Activation, IReadOnlyList<TokenScore> ReadsFrom, IReadOnlyList<TokenScore> Promotes, IReadOnlyList<TokenScore> Suppresses);

/// <summary>Reads heads and neurons back in vocabulary terms (the "how" of an explanation).</summary>
public static class Mechanisms
{
    public static IEnumerable<string> HookNamesNeeded(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => c.AttentionOnly
            ? new[] { HookNames.Pattern(l), HookNames.Result(l) }
            : [HookNames.Pattern(l), HookNames.Result(l), HookNames.MlpPost(l)]);

    public static HeadMechanism Head(HookedTransformer model, ITokenizer tokenizer, ActivationCache cache, int[] ids, Component head, int top)
    {
        var c = model.Config;
        int t = ids.Length;
        // hook_pattern [1, H, T, S]: this head's T×T block.
        var block = cache[HookNames.Pattern(head.Layer)].Contiguous().Span.Slice(head.Index * t * t, t * t);
        var pattern = new double[t][];
        for (int q = 0; q < t; q++)
        {
            pattern[q] = new double[t];
            for (int k = 0; k < t; k++) pattern[q][k] = block[q * t + k];
        }
        var answerRow = pattern[t - 1];
        var attends = Enumerable.Range(0, t).OrderByDescending(p => answerRow[p]).Take(top)
            .Select(p => new AttendedToken(p, tokenizer.TokenText(ids[p]), answerRow[p])).ToList();
        var output = LogitLens.LastRow(cache[HookNames.Result(head.Layer)]).AsSpan(head.Index * c.DModel, c.DModel).ToArray();
        var ov = OvCircuits.Read(model, tokenizer, head.Layer, head.Index, attends[0].Position, ids[attends[0].Position], top);
        return new HeadMechanism(head, attends, TopTokens(model, tokenizer, output, top, descending: true), ov, pattern);
    }

    public static NeuronMechanism Neuron(HookedTransformer model, ITokenizer tokenizer, ActivationCache cache, Component neuron, int top)
    {
        var mlp = model.Weights.Blocks[neuron.Layer].Mlp!;
        var readsFrom = Rank(tokenizer, TokenActivations(model, neuron.Layer, neuron.Index), top, descending: true);
        var output = DirectLogitAttribution.NeuronOutput(mlp.Out, neuron.Index);
        double activation = LogitLens.LastRow(cache[HookNames.MlpPost(neuron.Layer)])[neuron.Index];
        return new NeuronMechanism(neuron, activation, readsFrom,
            TopTokens(model, tokenizer, output, top, descending: true), TopTokens(model, tokenizer, output, top, descending: false));
    }

    /// <summary>
    /// The neuron's activation (hook_post) for every token when the token's embedding alone is its MLP's input: through
    /// ln2, and in a gated MLP the gate's activation times the up projection, whose sign and size a reading of the gate
    /// alone would miss. Embedding rows are gathered a chunk at a time, so a quantized table is never widened whole.
    /// </summary>
    public static float[] TokenActivations(HookedTransformer model, int layer, int neuron)
    {
        var c = model.Config;
        var block = model.Weights.Blocks[layer];
        var mlp = block.Mlp ?? throw new ArgumentException($"layer {layer} has no MLP", nameof(layer));
        var gate = NeuronInput(mlp.In, neuron, c.DModel);
        var up = mlp.Up is null ? default : NeuronInput(mlp.Up, neuron, c.DModel);
        var result = new float[c.VocabSize];
        const int Chunk = 1024;
        for (int start = 0; start < c.VocabSize; start += Chunk)
        {
            int count = Math.Min(Chunk, c.VocabSize - start);
            var x = Cx.Embedding(model.Weights.Embedding, Enumerable.Range(start, count).ToArray());
            if (c.EmbeddingScale != 1f) x = Cx.Scale(x, c.EmbeddingScale);
            var normed = model.ApplyNorm(Cx, x, block.Ln2!);
            var pre = Project(normed, gate);
            var post = mlp.Up is null ? Cx.Activate(pre, c.Activation) : Cx.Gated(pre, Project(normed, up), c.Activation);
            post.ToArray().CopyTo(result, start);
        }
        return result;
    }

    /// <summary>One neuron's column of an MLP input projection, [d_model, 1], and its bias ([1], 0 without one).</summary>
    private static (Tensor Column, Tensor Bias) NeuronInput(Linear linear, int neuron, int dModel) =>
        (Tensor.FromArray((linear.OutIn ? linear.Weight.Select(0, neuron) : linear.Weight.Select(1, neuron)).ToArray(), dModel, 1),
         Tensor.FromArray([linear.Bias is null ? 0f : linear.Bias.Select(0, neuron).ToArray()[0]], 1));

    private static Tensor Project(Tensor rows, (Tensor Column, Tensor Bias) input) => Cx.Add(Cx.MatMul(rows, input.Column), input.Bias);

    internal static readonly Compute Cx = Compute.Eager;

    /// <summary>Tokens whose logits a residual-stream vector raises (or lowers) most, read through the final norm's weights.</summary>
    public static List<TokenScore> TopTokens(HookedTransformer model, ITokenizer tokenizer, float[] vector, int top, bool descending) =>
        Rank(tokenizer, Unembed(model, vector, 1), top, descending);

    /// <summary>
    /// Logits [count, vocab] that <paramref name="count"/> residual-stream rows add, read through the final norm with
    /// its scale left out (one positive factor per row, which reorders nothing): centred for LayerNorm, times its weight.
    /// </summary>
    internal static float[] Unembed(HookedTransformer model, float[] rows, int count)
    {
        var w = model.Weights;
        var folded = FoldNorm(model.Config, w.FinalNorm, rows);
        return Cx.MatMul(Tensor.FromArray(folded, count, model.Config.DModel), w.Unembed.Weight, transposeB: w.Unembed.OutIn).ToArray();
    }

    /// <summary>
    /// Rows of d_model values as a norm's weights see them (TransformerLens's folded layer norm): centred when the norm
    /// is a LayerNorm, times its weight (plus one where the model adds it). The norm's bias is left out.
    /// </summary>
    internal static float[] FoldNorm(TransformerConfig c, NormWeights norm, float[] rows)
    {
        var weight = norm.Weight.ToArray();
        float offset = c.NormAddsOne ? 1f : 0f;
        var result = new float[rows.Length];
        for (int r = 0; r < rows.Length; r += c.DModel)
        {
            var row = rows.AsSpan(r, c.DModel);
            float mean = 0;
            if (c.Norm == NormKind.LayerNorm)
            {
                foreach (var v in row) mean += v;
                mean /= c.DModel;
            }
            for (int i = 0; i < c.DModel; i++) result[r + i] = (row[i] - mean) * (weight[i] + offset);
        }
        return result;
    }

    internal static List<TokenScore> Rank(ITokenizer tokenizer, ReadOnlySpan<float> scores, int top, bool descending)
    {
        var values = scores[..Math.Min(scores.Length, tokenizer.VocabSize)].ToArray();
        var order = Enumerable.Range(0, values.Length);
        order = descending ? order.OrderByDescending(i => values[i]) : order.OrderBy(i => values[i]);
        return order.Take(top).Select(i => new TokenScore(tokenizer.TokenText(i), values[i])).ToList();
    }
}

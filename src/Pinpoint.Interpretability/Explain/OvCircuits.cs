using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>What a head's weights alone do with a token it attends to.</summary>
/// <param name="Promotes">Top tokens of embed(source) · W_V[h] · W_O[h] · W_U.</param>
/// <param name="CopyingScore">
/// Share of <see cref="OvCircuits.CopyingSample"/> tokens spread evenly over the vocabulary whose own token is among the
/// top <see cref="OvCircuits.CopyingTopK"/> of their row of the full OV circuit, ties counting against it (a random
/// head scores about k/vocab).
/// </param>
public sealed record OvCircuit(int SourcePosition, string SourceToken, IReadOnlyList<TokenScore> Promotes, double CopyingScore);

/// <summary>
/// Weight-only readout of a head's OV circuit, W_E · W_V[h] · W_O[h] · W_U, with the norms folded in as
/// TransformerLens folds them: a token's raw embedding (times the embedding scale) is centred for LayerNorm and
/// multiplied by ln1's weight; the head's output likewise through the final norm's weight. Norm scales (one positive
/// factor per token) and biases are left out, so this says what the head would copy if the embedding were all it read.
/// </summary>
public static class OvCircuits
{
    public const int CopyingSample = 512, CopyingTopK = 5;

    /// <summary>Sampled tokens whose circuit rows are computed together (64 rows of a 128K vocabulary: 33 MB).</summary>
    private const int CopyingRowsPerProduct = 64;

    public static OvCircuit Read(HookedTransformer model, ITokenizer tokenizer, int layer, int head, int sourcePosition, int sourceToken, int top)
    {
        var circuit = Circuit(model, layer, head);
        var promotes = Mechanisms.Rank(tokenizer, circuit([sourceToken]), top, descending: true);
        double copying = CopyingScore(model.Config, circuit, Math.Min(model.Config.VocabSize, tokenizer.VocabSize));
        return new OvCircuit(sourcePosition, tokenizer.TokenText(sourceToken), promotes, copying);
    }

    /// <summary>Share of sampled tokens among [0, <paramref name="vocab"/>) that rank within the top k of their own circuit row.</summary>
    public static double CopyingScore(TransformerConfig c, Func<int[], float[]> circuit, int vocab)
    {
        int sample = Math.Min(CopyingSample, vocab);
        var tokens = Enumerable.Range(0, sample).Select(i => (int)((long)i * vocab / sample)).ToArray();
        int copied = 0;
        // A few rows at a time: all 512 rows of a 128K vocabulary would be 263 MB per head (and as much again copied out).
        for (int start = 0; start < sample; start += CopyingRowsPerProduct)
        {
            var part = tokens[start..Math.Min(sample, start + CopyingRowsPerProduct)];
            var rows = circuit(part);
            for (int i = 0; i < part.Length; i++)
            {
                var row = rows.AsSpan(i * c.VocabSize, vocab);
                float own = row[part[i]];
                // Ties count against the token: a flat row copies nothing.
                int rivals = -1;
                foreach (var v in row) if (v >= own) rivals++;
                if (rivals < CopyingTopK) copied++;
            }
        }
        return (double)copied / sample;
    }

    /// <summary>
    /// The full OV circuit of one head as a function from tokens to their logit rows [tokens, vocab]. The rows are
    /// written into one buffer the function reuses (read them before the next call): the copying score asks for 512
    /// rows of a 128K vocabulary 64 at a time, and a new 33 MB array per call is garbage the collector is slow to reclaim.
    /// </summary>
    public static Func<int[], float[]> Circuit(HookedTransformer model, int layer, int head)
    {
        var c = model.Config;
        var w = model.Weights;
        var value = Tensor.FromArray(WeightMatrices.KeyOrValue(c, w, layer, head / c.QueriesPerKvHead, value: true).ToArray(), c.DModel, c.DHead);
        // W_O[h] · W_U first: [d_head, vocab] keeps every token's row a product through the head's low rank.
        var output = Mechanisms.Unembed(model, WeightMatrices.Output(c, w, layer, head).ToArray(), c.DHead);
        float[] rows = [];
        return tokens =>
        {
            var embedded = new float[tokens.Length * c.DModel];
            for (int i = 0; i < tokens.Length; i++)
            {
                var row = embedded.AsSpan(i * c.DModel, c.DModel);
                w.Embedding.Select(0, tokens[i]).CopyTo(row);
                foreach (ref var v in row) v *= c.EmbeddingScale;
            }
            var read = Tensor.FromArray(Mechanisms.FoldNorm(c, w.Blocks[layer].Ln1, embedded), tokens.Length, c.DModel);
            var through = Mechanisms.Cx.MatMul(read, value).ToArray();
            if (rows.Length != tokens.Length * c.VocabSize) rows = new float[tokens.Length * c.VocabSize];
            Gemm.Multiply(tokens.Length, c.VocabSize, c.DHead, through, c.DHead, false, output, c.VocabSize, false, rows, c.VocabSize);
            return rows;
        };
    }
}

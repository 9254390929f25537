using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>What a head's query-key weights favour for one destination token: the source tokens its query scores highest.</summary>
/// <param name="Favours">Top source tokens by embed(destination) · W_Q[h] · W_K[h]ᵀ · embed(source)ᵀ / √d_head.</param>
public sealed record QkCircuit(string DestinationToken, IReadOnlyList<TokenScore> Favours);

/// <summary>
/// Weight-only readout of heads' QK circuits, W_E · W_Q[h] · W_K[h]ᵀ · W_Eᵀ, with ln1's weight folded in as
/// <see cref="OvCircuits"/> folds it (centred for LayerNorm, norm scale and biases left out; positions and rotary
/// embeddings are not part of it): which tokens a head would attend to from a destination token if the embeddings
/// were all it read. Each layer's folded embedding table [vocab, d_model] is built once per reader.
/// </summary>
public sealed class QkCircuits(HookedTransformer model, ITokenizer tokenizer)
{
    private readonly Dictionary<int, Tensor> _folded = [];

    public QkCircuit Read(int layer, int head, int destinationToken, int top)
    {
        var c = model.Config;
        var w = model.Weights;
        var embeddings = Folded(layer);
        var destination = Tensor.FromArray(embeddings.Span.Slice(destinationToken * c.DModel, c.DModel).ToArray(), 1, c.DModel);
        var query = Tensor.FromArray(WeightMatrices.Query(c, w, layer, head).ToArray(), c.DModel, c.DHead);
        var key = Tensor.FromArray(WeightMatrices.KeyOrValue(c, w, layer, head / c.QueriesPerKvHead, value: false).ToArray(), c.DModel, c.DHead);
        // W_K · (q)ᵀ first: one d_model vector that every token's folded embedding is then scored against.
        var q = Mechanisms.Cx.MatMul(destination, query);
        var reads = Mechanisms.Cx.MatMul(q, key, transposeB: true);
        var scores = Mechanisms.Cx.MatMul(embeddings, Tensor.FromArray(reads.ToArray(), c.DModel, 1)).ToArray();
        float scale = 1f / MathF.Sqrt(c.DHead);
        for (int i = 0; i < scores.Length; i++) scores[i] *= scale;
        return new QkCircuit(tokenizer.TokenText(destinationToken), Mechanisms.Rank(tokenizer, scores, top, descending: true));
    }

    private Tensor Folded(int layer)
    {
        if (_folded.TryGetValue(layer, out var cached)) return cached;
        var c = model.Config;
        var table = model.Weights.Embedding.ToArray();
        if (c.EmbeddingScale != 1f) for (int i = 0; i < table.Length; i++) table[i] *= c.EmbeddingScale;
        return _folded[layer] = Tensor.FromArray(Mechanisms.FoldNorm(c, model.Weights.Blocks[layer].Ln1, table), c.VocabSize, c.DModel);
    }
}

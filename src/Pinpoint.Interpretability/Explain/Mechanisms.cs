using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

public sealed record AttendedToken(int Position, string Token, double Weight);

public sealed record TokenScore(string Token, double Score);

/// <summary>How a head acts at the answer position: where it looks, and which tokens its output pushes up.</summary>
/// <param name="Pattern">[query][key]: the head's whole attention pattern over the prompt, for drawing it (the last row is where <paramref name="AttendsTo"/> comes from).</param>
public sealed record HeadMechanism(Component Head, IReadOnlyList<AttendedToken> AttendsTo, IReadOnlyList<TokenScore> Promotes, double[][] Pattern);

/// <summary>How a neuron acts: the tokens whose embeddings excite it most, and the tokens its output pushes up and down.</summary>
public sealed record NeuronMechanism(Component Neuron, double Activation, IReadOnlyList<TokenScore> ReadsFrom, IReadOnlyList<TokenScore> Promotes, IReadOnlyList<TokenScore> Suppresses);

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
        return new HeadMechanism(head, attends, TopTokens(model, tokenizer, output, top, descending: true), pattern);
    }

    public static NeuronMechanism Neuron(HookedTransformer model, ITokenizer tokenizer, ActivationCache cache, Component neuron, int top)
    {
        var mlp = model.Weights.Blocks[neuron.Layer].Mlp!;
        var input = (mlp.In.OutIn ? mlp.In.Weight.Select(0, neuron.Index) : mlp.In.Weight.Select(1, neuron.Index)).ToArray();
        var embedding = model.Weights.Embedding.ToFloat32();
        var reads = Cx.MatMul(embedding, Tensor.FromArray(input, input.Length, 1)).ToArray();
        var readsFrom = Rank(tokenizer, reads, top, descending: true);
        var output = DirectLogitAttribution.NeuronOutput(mlp.Out, neuron.Index);
        double activation = LogitLens.LastRow(cache[HookNames.MlpPost(neuron.Layer)])[neuron.Index];
        return new NeuronMechanism(neuron, activation, readsFrom,
            TopTokens(model, tokenizer, output, top, descending: true), TopTokens(model, tokenizer, output, top, descending: false));
    }

    private static readonly Compute Cx = Compute.Eager;

    /// <summary>Tokens whose logits a residual-stream vector raises (or lowers) most, read through the final norm's weights.</summary>
    private static List<TokenScore> TopTokens(HookedTransformer model, ITokenizer tokenizer, float[] vector, int top, bool descending)
    {
        var w = model.Weights;
        var normWeight = w.FinalNorm.Weight.ToArray();
        float offset = model.Config.NormAddsOne ? 1f : 0f;
        var scaled = vector.Select((v, i) => v * (normWeight[i] + offset)).ToArray();
        var logits = Cx.MatMul(Tensor.FromArray(scaled, 1, scaled.Length), w.Unembed.Weight, transposeB: w.Unembed.OutIn).ToArray();
        return Rank(tokenizer, logits, top, descending);
    }

    private static List<TokenScore> Rank(ITokenizer tokenizer, float[] scores, int top, bool descending)
    {
        var order = Enumerable.Range(0, Math.Min(scores.Length, tokenizer.VocabSize));
        order = descending ? order.OrderByDescending(i => scores[i]) : order.OrderBy(i => scores[i]);
        return order.Take(top).Select(i => new TokenScore(tokenizer.TokenText(i), scores[i])).ToList();
    }
}

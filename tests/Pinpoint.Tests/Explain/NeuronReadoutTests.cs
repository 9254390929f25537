using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>What a neuron "reads from": its activation when a token's embedding alone is its MLP's input.</summary>
public class NeuronReadoutTests
{
    private const int Vocab = 10, DModel = 16, DMlp = 12;

    private static TransformerConfig Config(bool gated) => gated
        ? new TransformerConfig
        {
            Architecture = "llama", DModel = DModel, NLayers = 1, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = DMlp, VocabSize = Vocab,
            ContextLength = 8, Norm = NormKind.RmsNorm, Positions = PositionKind.Rotary, RotaryDim = 8,
            Activation = Pinpoint.Engine.Kernels.Activation.Silu, GatedMlp = true,
        }
        : new TransformerConfig
        {
            Architecture = "gpt2", DModel = DModel, NLayers = 1, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = DMlp, VocabSize = Vocab,
            ContextLength = 8,
        };

    /// <summary>A random one-layer model whose attention writes nothing and whose positions add nothing, so the MLP reads the token's embedding alone.</summary>
    private static HookedTransformer EmbeddingOnlyMlp(bool gated)
    {
        var config = Config(gated);
        var w = gated ? new LlamaAdapter().CreateRandom(config, seed: 7) : new Gpt2Adapter().CreateRandom(config, seed: 7);
        var rng = new Random(11);
        foreach (var (_, t) in w.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.8);
        }
        w.Blocks[0].Attention.O.Weight.Span.Clear();
        w.Blocks[0].Attention.O.Bias?.Span.Clear();
        w.PositionEmbedding?.Span.Clear();
        return new HookedTransformer(config, w);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EveryTokensReadingIsTheNeuronsActivationOnThatTokenAlone(bool gated)
    {
        var model = EmbeddingOnlyMlp(gated);
        var hook = HookNames.MlpPost(0);
        var readings = Enumerable.Range(0, DMlp).Select(n => Mechanisms.TokenActivations(model, 0, n)).ToArray();
        for (int token = 0; token < Vocab; token++)
        {
            var (_, cache) = model.RunWithCache(TokenBatch.Single([token]), name => name == hook);
            var post = cache[hook].ToArray();
            for (int n = 0; n < DMlp; n++) Assert.Equal(post[n], readings[n][token], 1e-4 * (1 + Math.Abs(post[n])));
        }
    }

    [Fact]
    public void AGatedNeuronReadsTheTokenThatOpensTheGateAndPassesTheUpProjection()
    {
        // Token t embeds as basis vector t; RMSNorm makes it about √d_model · e_t (ln2 weight 1). Neuron 0's gate reads token 3
        // twice as strongly as token 5, but its up projection reads only token 5: token 3 gives silu(2·4) · 0 = 0, token
        // 5 gives silu(4) · 4, so token 5 leads — a reading of the gate alone would put token 3 first.
        var config = Config(gated: true);
        var w = new LlamaAdapter().CreateRandom(config, seed: 7);
        var embedding = w.Embedding.Span;
        embedding.Clear();
        for (int t = 0; t < Vocab; t++) embedding[t * DModel + t] = 1f;
        var mlp = w.Blocks[0].Mlp!;
        w.Blocks[0].Ln2!.Weight.Span.Fill(1f);
        void Column(Linear linear, int neuron, int dimension, float value)
        {
            var s = linear.Weight.Span;
            int index = linear.OutIn ? neuron * DModel + dimension : dimension * DMlp + neuron;
            s[index] = value;
        }
        mlp.In.Weight.Span.Clear();
        mlp.Up!.Weight.Span.Clear();
        Column(mlp.In, 0, 3, 2f);
        Column(mlp.In, 0, 5, 1f);
        Column(mlp.Up, 0, 5, 1f);
        var reads = Mechanisms.TokenActivations(new HookedTransformer(config, w), 0, 0);
        double rootD = 1 / Math.Sqrt(1.0 / DModel + config.NormEps); // what RMSNorm makes of a unit basis vector
        double silu(double x) => x / (1 + Math.Exp(-x));
        Assert.Equal(silu(rootD) * rootD, reads[5], 1e-4);
        Assert.Equal(0.0, reads[3], 1e-6);
        Assert.Equal(5, Array.IndexOf(reads, reads.Max()));
    }
}

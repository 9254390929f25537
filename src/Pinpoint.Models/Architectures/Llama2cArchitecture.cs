using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>
/// llama2.c checkpoints: Llama-2 blocks with Meta's interleaved rotary layout, RMSNorm eps 1e-5, RoPE θ 10000,
/// SentencePiece BOS 1 / EOS 2 (run.c always prepends BOS).
/// </summary>
public static class Llama2cArchitecture
{
    public static TransformerConfig Config(TensorFile file)
    {
        int Int(string key) => checked((int)file.GetInt64("llama2c." + key));
        int d = Int("dim"), heads = Int("n_heads");
        if (heads <= 0 || d % heads != 0) throw new ModelConfigException($"{file.Path}: dim {d} is not divisible by n_heads {heads}");
        return new TransformerConfig
        {
            Architecture = "llama",
            DModel = d,
            NLayers = Int("n_layers"),
            NHeads = heads,
            NKvHeads = Int("n_kv_heads"),
            DHead = d / heads,
            DMlp = Int("hidden_dim"),
            VocabSize = Int("vocab_size"),
            ContextLength = Int("max_seq_len"),
            Norm = NormKind.RmsNorm,
            NormEps = 1e-5f,
            Positions = PositionKind.Rotary,
            RopeLayout = RopeLayout.Interleaved,
            RopeTheta = 10000f,
            RotaryDim = d / heads,
            Activation = Activation.Silu,
            GatedMlp = true,
            BosTokenId = 1,
            EosTokenId = 2,
            AddBos = true,
        };
    }

    public static TransformerWeights Weights(TransformerConfig config, ITensorSource t)
    {
        var embedding = t.Get("tok_embeddings.weight");
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"layers.{l}.";
            Linear Proj(string name) => new(t.Get(p + name + ".weight"), OutIn: true);
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "attention_norm.weight"), null),
                new AttentionWeights { Q = Proj("attention.wq"), K = Proj("attention.wk"), V = Proj("attention.wv"), O = Proj("attention.wo") },
                new NormWeights(t.Get(p + "ffn_norm.weight"), null),
                new MlpWeights { In = Proj("feed_forward.w1"), Up = Proj("feed_forward.w3"), Out = Proj("feed_forward.w2") });
        }
        return new TransformerWeights
        {
            Embedding = embedding,
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get("norm.weight"), null),
            Unembed = new Linear(t.TryGet("output.weight") ?? embedding, OutIn: true),
        };
    }
}

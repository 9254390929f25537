using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>GPT-2: learned positions, LayerNorm, fused Conv1D q|k|v stored [in, out], GELU (tanh), tied unembedding.</summary>
public sealed class Gpt2Adapter : IArchitectureAdapter
{
    public string Name => "gpt2";
    public IReadOnlyList<string> HfModelTypes { get; } = ["gpt2"];

    public TransformerConfig ConfigFromHf(HfConfig c)
    {
        int d = c.Int("n_embd", "hidden_size"), heads = c.Int("n_head", "num_attention_heads");
        if (heads <= 0 || d % heads != 0) throw new ModelConfigException($"{c.Path}: n_embd {d} is not divisible by n_head {heads}");
        return new TransformerConfig
        {
            Architecture = Name,
            DModel = d,
            NLayers = c.Int("n_layer", "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = heads,
            DHead = d / heads,
            DMlp = c.IntOrNull("n_inner") ?? 4 * d,
            VocabSize = c.Int("vocab_size"),
            ContextLength = c.Int("n_positions", "n_ctx", "max_position_embeddings"),
            Norm = NormKind.LayerNorm,
            NormEps = c.Float(1e-5f, "layer_norm_epsilon"),
            Positions = PositionKind.Learned,
            Activation = ActivationNames.Parse(c.String("activation_function") ?? "gelu_new", c.Path),
            BosTokenId = c.IntOrNull("bos_token_id"),
            EosTokenId = c.IntOrNull("eos_token_id"),
            AddBos = false,
        };
    }

    public TransformerWeights WeightsFromHf(TransformerConfig config, ITensorSource t)
    {
        string prefix = t.TryGet("transformer.wte.weight") is not null ? "transformer." : "";
        var wte = t.Get(prefix + "wte.weight");
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"{prefix}h.{l}.";
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "ln_1.weight"), t.Get(p + "ln_1.bias")),
                new AttentionWeights
                {
                    Qkv = new Linear(t.Get(p + "attn.c_attn.weight"), OutIn: false, t.Get(p + "attn.c_attn.bias")),
                    O = new Linear(t.Get(p + "attn.c_proj.weight"), OutIn: false, t.Get(p + "attn.c_proj.bias")),
                },
                new NormWeights(t.Get(p + "ln_2.weight"), t.Get(p + "ln_2.bias")),
                new MlpWeights
                {
                    In = new Linear(t.Get(p + "mlp.c_fc.weight"), OutIn: false, t.Get(p + "mlp.c_fc.bias")),
                    Out = new Linear(t.Get(p + "mlp.c_proj.weight"), OutIn: false, t.Get(p + "mlp.c_proj.bias")),
                });
        }
        return new TransformerWeights
        {
            Embedding = wte,
            PositionEmbedding = t.Get(prefix + "wpe.weight"),
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get(prefix + "ln_f.weight"), t.Get(prefix + "ln_f.bias")),
            Unembed = new Linear(t.TryGet("lm_head.weight") ?? wte, OutIn: true),
        };
    }
}

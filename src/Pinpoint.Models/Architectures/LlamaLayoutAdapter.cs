using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>
/// The Llama tensor layout and config rules: RMSNorm, rotary positions in HF's rotate-half layout, grouped-query
/// attention, SwiGLU MLP. Llama itself, Qwen2 and Gemma derive from it with their own names and config rules.
/// </summary>
public abstract class LlamaLayoutAdapter : IArchitectureAdapter
{
    public abstract string Name { get; }
    public abstract IReadOnlyList<string> HfModelTypes { get; }

    public virtual TransformerConfig ConfigFromHf(HfConfig c)
    {
        int d = c.Required(c.HiddenSize, "hidden_size"), heads = c.Required(c.NumAttentionHeads, "num_attention_heads");
        int dHead = c.HeadDim ?? (d % heads == 0 ? d / heads : throw new ModelConfigException($"{c.Path}: hidden_size {d} is not divisible by num_attention_heads {heads}"));
        if (c.RopeScaling is { } scaling)
            throw new ModelConfigException($"{c.Path}: rope_scaling {scaling.GetRawText()} is not supported yet");
        return new TransformerConfig
        {
            Architecture = Name,
            DModel = d,
            NLayers = c.Required(c.NumHiddenLayers, "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = c.NumKeyValueHeads ?? heads,
            DHead = dHead,
            DMlp = c.Required(c.IntermediateSize, "intermediate_size"),
            VocabSize = c.Required(c.VocabSize, "vocab_size"),
            ContextLength = c.Required(c.MaxPositionEmbeddings, "max_position_embeddings"),
            Norm = NormKind.RmsNorm,
            NormEps = (float)(c.RmsNormEps ?? 1e-6),
            Positions = PositionKind.Rotary,
            RopeLayout = RopeLayout.Half,
            RopeTheta = (float)(c.RopeTheta ?? 10000),
            RotaryDim = dHead,
            Activation = ActivationNames.Parse(c.HiddenAct ?? "silu", c.Path),
            GatedMlp = true,
            BosTokenId = c.BosTokenId,
            EosTokenId = c.EosTokenId(),
            AddBos = true,
        };
    }

    public TransformerWeights WeightsFromHf(TransformerConfig config, ITensorSource t)
    {
        var embed = t.Get("model.embed_tokens.weight");
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"model.layers.{l}.";
            Linear Proj(string name) => new(t.Get(p + name + ".weight"), OutIn: true, t.TryGet(p + name + ".bias"));
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "input_layernorm.weight"), null),
                new AttentionWeights { Q = Proj("self_attn.q_proj"), K = Proj("self_attn.k_proj"), V = Proj("self_attn.v_proj"), O = Proj("self_attn.o_proj") },
                new NormWeights(t.Get(p + "post_attention_layernorm.weight"), null),
                new MlpWeights { In = Proj("mlp.gate_proj"), Up = Proj("mlp.up_proj"), Out = Proj("mlp.down_proj") });
        }
        return new TransformerWeights
        {
            Embedding = embed,
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get("model.norm.weight"), null),
            Unembed = new Linear(t.TryGet("lm_head.weight") ?? embed, OutIn: true),
        };
    }
}

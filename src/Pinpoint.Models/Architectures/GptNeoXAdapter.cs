using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>
/// GPT-NeoX / Pythia: parallel residual, partial rotary (rotate-half within the first rotary_pct of each head),
/// LayerNorm, exact-erf GELU, untied unembedding. The fused q|k|v weight is interleaved per head ([H, 3, D] rows),
/// so it is regrouped once at load into the canonical [q | k | v] order.
/// </summary>
public sealed class GptNeoXAdapter : IArchitectureAdapter
{
    public string Name => "gpt_neox";
    public IReadOnlyList<string> HfModelTypes { get; } = ["gpt_neox"];

    public TransformerConfig ConfigFromHf(HfConfig c)
    {
        int d = c.Required(c.HiddenSize, "hidden_size"), heads = c.Required(c.NumAttentionHeads, "num_attention_heads");
        if (heads <= 0 || d % heads != 0) throw new ModelConfigException($"{c.Path}: hidden_size {d} is not divisible by num_attention_heads {heads}");
        int dHead = d / heads;
        double pct = c.RotaryPct ?? c.PartialRotaryFactor ?? 1.0;
        int rotary = (int)(dHead * pct);
        return new TransformerConfig
        {
            Architecture = Name,
            DModel = d,
            NLayers = c.Required(c.NumHiddenLayers, "num_hidden_layers"),
            NHeads = heads,
            NKvHeads = heads,
            DHead = dHead,
            DMlp = c.Required(c.IntermediateSize, "intermediate_size"),
            VocabSize = c.Required(c.VocabSize, "vocab_size"),
            ContextLength = c.Required(c.MaxPositionEmbeddings, "max_position_embeddings"),
            Norm = NormKind.LayerNorm,
            NormEps = (float)(c.LayerNormEps ?? 1e-5),
            Positions = PositionKind.Rotary,
            RopeLayout = RopeLayout.Half,
            RopeTheta = (float)(c.RawNumber("rotary_emb_base") ?? c.RopeTheta ?? 10000),
            RotaryDim = rotary - rotary % 2,
            Activation = ActivationNames.Parse(c.HiddenAct ?? "gelu", c.Path),
            ParallelResidual = c.UseParallelResidual ?? true,
            BosTokenId = c.BosTokenId,
            EosTokenId = c.EosTokenId(),
            AddBos = false,
        };
    }

    public TransformerWeights WeightsFromHf(TransformerConfig config, ITensorSource t)
    {
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"gpt_neox.layers.{l}.";
            Linear Proj(string name) => new(t.Get(p + name + ".weight"), OutIn: true, t.TryGet(p + name + ".bias"));
            var qkv = t.Get(p + "attention.query_key_value.weight");
            var qkvBias = t.TryGet(p + "attention.query_key_value.bias");
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "input_layernorm.weight"), t.Get(p + "input_layernorm.bias")),
                new AttentionWeights
                {
                    Qkv = new Linear(GroupHeads(qkv, config), OutIn: true, qkvBias is null ? null : GroupHeads(qkvBias, config)),
                    O = Proj("attention.dense"),
                },
                new NormWeights(t.Get(p + "post_attention_layernorm.weight"), t.Get(p + "post_attention_layernorm.bias")),
                new MlpWeights { In = Proj("mlp.dense_h_to_4h"), Out = Proj("mlp.dense_4h_to_h") });
        }
        return new TransformerWeights
        {
            Embedding = t.Get("gpt_neox.embed_in.weight"),
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get("gpt_neox.final_layer_norm.weight"), t.Get("gpt_neox.final_layer_norm.bias")),
            Unembed = new Linear(t.Get("embed_out.weight"), OutIn: true),
        };
    }

    /// <summary>Rows ordered [head][q,k,v][d] → [q,k,v][head][d] (works for the weight and the bias).</summary>
    private static Tensor GroupHeads(Tensor fused, TransformerConfig c)
    {
        int rowWidth = fused.Rank == 2 ? fused.Dim(1) : 1;
        if (fused.Dim(0) != 3 * c.NHeads * c.DHead)
            throw new ModelConfigException($"query_key_value {fused.Describe()} does not have 3 × {c.NHeads} heads × {c.DHead} rows");
        var source = fused.Contiguous().Span;
        var grouped = Tensor.Zeros(fused.Shape.ToArray());
        var target = grouped.Span;
        int block = c.DHead * rowWidth;
        for (int h = 0; h < c.NHeads; h++)
            for (int part = 0; part < 3; part++)
                source.Slice(((h * 3) + part) * block, block).CopyTo(target.Slice(((part * c.NHeads) + h) * block, block));
        return grouped;
    }
}

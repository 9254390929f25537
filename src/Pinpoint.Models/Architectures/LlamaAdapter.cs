using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>
/// Llama family (Llama-2/3, TinyLlama, SmolLM, Mistral) — and the Llama-style architecture Pinpoint trains:
/// RMSNorm, rotate-half rotary positions, SwiGLU, no biases, unembedding tied to the embedding (as small Llamas do).
/// </summary>
public sealed class LlamaAdapter : LlamaLayoutAdapter, ITrainableArchitecture
{
    public override string Name => "llama";
    public override IReadOnlyList<string> HfModelTypes { get; } = ["llama", "mistral"];

    private const float RmsNormEps = 1e-5f, RopeTheta = 10000f;

    // A gated MLP has three matrices, so ~8/3·d keeps the parameter count of a 4·d ungated one; rounded for the GEMM tiles.
    public TransformerConfig ConfigForTraining(TrainingShape s) => s.Config(Name, usualDMlp: (8 * s.DModel / 3 + 63) / 64 * 64) with
    {
        Norm = NormKind.RmsNorm,
        NormEps = RmsNormEps,
        Positions = PositionKind.Rotary,
        RopeLayout = RopeLayout.Half,
        RopeTheta = RopeTheta,
        RotaryDim = s.DModel / s.NHeads,
        Activation = Activation.Silu,
        GatedMlp = true,
    };

    public TransformerWeights CreateRandom(TransformerConfig c, int seed)
    {
        var init = new WeightInitializer(seed, c.NLayers);
        int q = c.NHeads * c.DHead, kv = c.NKvHeads * c.DHead;
        var blocks = new BlockWeights[c.NLayers];
        for (int l = 0; l < c.NLayers; l++)
        {
            blocks[l] = new BlockWeights(
                new NormWeights(WeightInitializer.Ones(c.DModel), null),
                new AttentionWeights
                {
                    Q = new Linear(init.Weight(q, c.DModel), OutIn: true),
                    K = new Linear(init.Weight(kv, c.DModel), OutIn: true),
                    V = new Linear(init.Weight(kv, c.DModel), OutIn: true),
                    O = new Linear(init.ResidualWeight(c.DModel, q), OutIn: true),
                },
                c.AttentionOnly ? null : new NormWeights(WeightInitializer.Ones(c.DModel), null),
                c.AttentionOnly ? null : new MlpWeights
                {
                    In = new Linear(init.Weight(c.DMlp, c.DModel), OutIn: true),
                    Up = new Linear(init.Weight(c.DMlp, c.DModel), OutIn: true),
                    Out = new Linear(init.ResidualWeight(c.DModel, c.DMlp), OutIn: true),
                });
        }
        var embed = init.Weight(c.VocabSize, c.DModel);
        return new TransformerWeights
        {
            Embedding = embed,
            Blocks = blocks,
            FinalNorm = new NormWeights(WeightInitializer.Ones(c.DModel), null),
            Unembed = new Linear(embed, OutIn: true),
        };
    }

    public Dictionary<string, object> HfConfigFields(TransformerConfig c) => new()
    {
        ["architectures"] = new[] { "LlamaForCausalLM" },
        ["model_type"] = "llama",
        ["hidden_size"] = c.DModel,
        ["intermediate_size"] = c.DMlp,
        ["num_hidden_layers"] = c.NLayers,
        ["num_attention_heads"] = c.NHeads,
        ["num_key_value_heads"] = c.NKvHeads,
        ["head_dim"] = c.DHead,
        ["max_position_embeddings"] = c.ContextLength,
        ["vocab_size"] = c.VocabSize,
        ["rms_norm_eps"] = c.NormEps,
        ["rope_theta"] = c.RopeTheta,
        ["hidden_act"] = "silu",
        ["attention_bias"] = false,
        ["mlp_bias"] = false,
        ["tie_word_embeddings"] = true,
        ["bos_token_id"] = c.BosTokenId ?? c.VocabSize - 1,
        ["eos_token_id"] = c.EosTokenId ?? c.VocabSize - 1,
    };

    /// <remarks>
    /// Models read from llama2.c or GGUF keep q/k rows in Meta's interleaved-pair rotary layout; they are permuted to
    /// Hugging Face's rotate-half layout here (the inverse of HF's conversion). An unembedding not tied to the
    /// embedding is written as lm_head.weight (and <see cref="HfCheckpoint"/> then marks the config untied).
    /// </remarks>
    public IEnumerable<(string Name, Tensor Tensor)> HfTensors(TransformerConfig c, TransformerWeights w)
    {
        bool interleaved = c.RopeLayout == RopeLayout.Interleaved;
        if (c.AttentionOnly || (interleaved && c.RotaryDim != c.DHead) || !w.Unembed.OutIn
            || w.Blocks.Any(b => b.Attention.Q is not { OutIn: true, Bias: null } || b.Mlp?.Up is null))
            throw new ModelConfigException("llama export needs MLP blocks, separate bias-free [out, in] q/k/v weights, rotary over whole heads and an [out, in] unembedding");
        Tensor Rotary(Tensor weight) => interleaved ? InterleavedToHalf(weight, c.DHead) : weight;
        yield return ("model.embed_tokens.weight", w.Embedding);
        for (int l = 0; l < c.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"model.layers.{l}.";
            yield return (p + "input_layernorm.weight", b.Ln1.Weight);
            yield return (p + "self_attn.q_proj.weight", Rotary(b.Attention.Q!.Weight));
            yield return (p + "self_attn.k_proj.weight", Rotary(b.Attention.K!.Weight));
            yield return (p + "self_attn.v_proj.weight", b.Attention.V!.Weight);
            yield return (p + "self_attn.o_proj.weight", b.Attention.O.Weight);
            yield return (p + "post_attention_layernorm.weight", b.Ln2!.Weight);
            yield return (p + "mlp.gate_proj.weight", b.Mlp!.In.Weight);
            yield return (p + "mlp.up_proj.weight", b.Mlp.Up!.Weight);
            yield return (p + "mlp.down_proj.weight", b.Mlp.Out.Weight);
        }
        yield return ("model.norm.weight", w.FinalNorm.Weight);
        foreach (var p in HfCheckpoint.UntiedUnembedding(w, Name)) yield return p;
    }

    /// <summary>
    /// Rows of a q or k projection from the interleaved-pair layout (row 2i+j of a head rotates with pair i) to
    /// rotate-half (row j·d/2+i), head by head.
    /// </summary>
    public static Tensor InterleavedToHalf(Tensor weight, int dHead)
    {
        int rows = weight.Dim(0), cols = weight.Dim(1), half = dHead / 2;
        var source = weight.ToArray();
        var result = new float[source.Length];
        for (int head = 0; head < rows / dHead; head++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                    source.AsSpan((head * dHead + 2 * i + j) * cols, cols).CopyTo(result.AsSpan((head * dHead + j * half + i) * cols, cols));
        return Tensor.FromArray(result, rows, cols);
    }
}

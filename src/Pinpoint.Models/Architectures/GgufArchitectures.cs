using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>
/// GGUF files use one tensor naming scheme for every architecture (blk.N.attn_q ...), weights stored [out, in],
/// and architecture-specific metadata keys ({arch}.embedding_length ...). llama.cpp keeps Llama's q/k rows in
/// Meta's interleaved rotary layout, folds Gemma's (1 + w) into the stored norm weights, and stores GPT-NeoX's
/// fused attn_qkv already regrouped as [q | k | v] (its converter undoes HF's per-head interleaving).
/// </summary>
public static class GgufArchitectures
{
    public static IReadOnlyList<string> Supported { get; } = ["llama", "qwen2", "gpt2", "gemma", "gptneox"];

    public static TransformerConfig Config(TensorFile file)
    {
        string arch = file.GetString("general.architecture");
        if (!Supported.Contains(arch))
            throw new ModelConfigException($"{file.Path}: unsupported GGUF architecture '{arch}' (supported: {string.Join(", ", Supported)})");
        int Int(string key) => checked((int)file.GetInt64($"{arch}.{key}"));
        int? OptionalInt(string key) => file.HasMetadata($"{arch}.{key}") ? Int(key) : null;
        float Float(string key, float fallback) => file.HasMetadata($"{arch}.{key}") ? (float)file.GetDouble($"{arch}.{key}") : fallback;

        int d = Int("embedding_length"), heads = Int("attention.head_count");
        if (d % heads != 0) throw new ModelConfigException($"{file.Path}: embedding_length {d} is not divisible by head_count {heads}");
        int dHead = OptionalInt("attention.key_length") ?? d / heads;
        var embedding = file["token_embd.weight"];
        bool gpt2 = arch == "gpt2", neox = arch == "gptneox", layerNorm = gpt2 || neox;
        var config = new TransformerConfig
        {
            Architecture = neox ? "gpt_neox" : arch,
            DModel = d,
            NLayers = Int("block_count"),
            NHeads = heads,
            NKvHeads = OptionalInt("attention.head_count_kv") ?? heads,
            DHead = dHead,
            DMlp = Int("feed_forward_length"),
            VocabSize = embedding.Dim(0),
            ContextLength = Int("context_length"),
            Norm = layerNorm ? NormKind.LayerNorm : NormKind.RmsNorm,
            NormEps = layerNorm ? Float("attention.layer_norm_epsilon", 1e-5f) : Float("attention.layer_norm_rms_epsilon", 1e-6f),
            Positions = gpt2 ? PositionKind.Learned : PositionKind.Rotary,
            RopeLayout = arch == "llama" ? RopeLayout.Interleaved : RopeLayout.Half,
            RopeTheta = Float("rope.freq_base", 10000f),
            RotaryDim = OptionalInt("rope.dimension_count") ?? dHead,
            // llama.cpp runs GPT-NeoX with its tanh GELU, but Pythia was trained with the exact one.
            Activation = arch switch { "gpt2" or "gemma" => Activation.GeluTanh, "gptneox" => Activation.Gelu, _ => Activation.Silu },
            GatedMlp = !layerNorm,
            ParallelResidual = neox && (!file.HasMetadata("gptneox.use_parallel_residual") || file.GetBool("gptneox.use_parallel_residual")),
            EmbeddingScale = arch == "gemma" ? MathF.Sqrt(d) : 1f,
            BosTokenId = file.HasMetadata("tokenizer.ggml.bos_token_id") ? (int)file.GetInt64("tokenizer.ggml.bos_token_id") : null,
            EosTokenId = file.HasMetadata("tokenizer.ggml.eos_token_id") ? (int)file.GetInt64("tokenizer.ggml.eos_token_id") : null,
        };
        bool addBos = file.HasMetadata("tokenizer.ggml.add_bos_token") ? file.GetBool("tokenizer.ggml.add_bos_token") : arch is "llama" or "gemma";
        return config with { AddBos = addBos };
    }

    public static TransformerWeights Weights(TransformerConfig config, ITensorSource t)
    {
        var embedding = t.Get("token_embd.weight");
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"blk.{l}.";
            Linear Proj(string name) => new(t.Get(p + name + ".weight"), OutIn: true, t.TryGet(p + name + ".bias"));
            var fused = t.TryGet(p + "attn_qkv.weight");
            var attention = fused is not null
                ? new AttentionWeights { Qkv = Proj("attn_qkv"), O = Proj("attn_output") }
                : new AttentionWeights { Q = Proj("attn_q"), K = Proj("attn_k"), V = Proj("attn_v"), O = Proj("attn_output") };
            var mlp = config.GatedMlp
                ? new MlpWeights { In = Proj("ffn_gate"), Up = Proj("ffn_up"), Out = Proj("ffn_down") }
                : new MlpWeights { In = Proj("ffn_up"), Out = Proj("ffn_down") };
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "attn_norm.weight"), t.TryGet(p + "attn_norm.bias")),
                attention,
                new NormWeights(t.Get(p + "ffn_norm.weight"), t.TryGet(p + "ffn_norm.bias")),
                mlp);
        }
        return new TransformerWeights
        {
            Embedding = embedding,
            PositionEmbedding = config.Positions == PositionKind.Learned ? t.Get("position_embd.weight") : null,
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get("output_norm.weight"), t.TryGet("output_norm.bias")),
            Unembed = new Linear(t.TryGet("output.weight") ?? embedding, OutIn: true),
        };
    }
}

using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;

namespace Pinpoint.Tests.Oracle;

/// <summary>Sizes of a random-weight model; <see cref="Architecture"/> is llama.cpp's name (llama, qwen2, gpt2, gemma, gptneox).</summary>
public sealed record RandomModelSpec(string Architecture, int DModel, int NLayers, int NHeads, int NKvHeads, int DMlp, int VocabSize, int ContextLength)
{
    public int DHead => DModel / NHeads;
    public bool IsGpt2 => Architecture == "gpt2";
    public bool IsNeoX => Architecture == "gptneox";
    /// <summary>GPT-NeoX models here rotate a quarter of each head (Pythia's rotary_pct 0.25).</summary>
    public int RotaryDim => IsNeoX ? DHead / 4 : DHead;
}

/// <summary>
/// Writes one set of random weights both as a GGUF file (llama.cpp's tensor names and metadata keys) and as a Hugging
/// Face folder (config.json + model.safetensors), so two independent loaders and llama.cpp can be compared on it.
/// The conversions are the ones llama.cpp's convert_hf_to_gguf applies: GPT-2's Conv1D weights are transposed to
/// [out, in], Llama's q/k rows go from HF's rotate-half order to Meta's interleaved order, Gemma's norm weights
/// are stored as 1 + w, and GPT-NeoX's per-head interleaved q|k|v rows are regrouped as [q | k | v].
/// Also linked into the benchmark project.
/// </summary>
public static class RandomModels
{
    /// <summary>Small sizes per architecture that still exercise grouped-query attention (llama, qwen2, gemma) and partial rotary (gptneox).</summary>
    public static RandomModelSpec SmallSpec(string arch) => arch switch
    {
        "llama" => new(arch, DModel: 64, NLayers: 2, NHeads: 4, NKvHeads: 2, DMlp: 128, VocabSize: 512, ContextLength: 64),
        "qwen2" => new(arch, 64, 2, 4, 2, 128, 401, 64),
        "gpt2" => new(arch, 64, 2, 4, 4, 256, 401, 64),
        "gemma" => new(arch, 64, 2, 4, 1, 128, 512, 64),
        "gptneox" => new(arch, 64, 2, 4, 4, 256, 401, 64),
        _ => throw new ArgumentOutOfRangeException(nameof(arch), arch, null),
    };

    /// <summary>
    /// The shared files (relative to ../shared) whose tokenizer matches the spec's vocabulary: a GGUF to copy tokenizer.*
    /// metadata from, and the tokenizer our loader reads beside the HF folder.
    /// </summary>
    public static (string Gguf, string HfTokenizer) SharedTokenizer(RandomModelSpec spec) => spec.VocabSize == 512
        ? ("models/stories260K/stories260K.gguf", "models/stories260K/tok512.model")
        : ("models/gpt2-random/model.gguf", "models/gpt2-random/tokenizer.json");

    /// <summary>Writes <c>model.gguf</c> and <c>hf/</c> under <paramref name="directory"/>; returns (gguf path, HF folder).</summary>
    public static (string Gguf, string HfFolder) Write(RandomModelSpec spec, string directory,
        IEnumerable<KeyValuePair<string, MetadataValue>> tokenizerMetadata, int seed)
    {
        var rng = new Random(seed);
        var hf = spec.IsGpt2 ? Gpt2Tensors(spec, rng) : spec.IsNeoX ? NeoXTensors(spec, rng) : LlamaFamilyTensors(spec, rng);
        var hfFolder = Path.Combine(directory, "hf");
        Directory.CreateDirectory(hfFolder);
        SafetensorsWriter.Write(Path.Combine(hfFolder, "model.safetensors"),
            hf.Where(t => t.HfName is not null).Select(t => KeyValuePair.Create(t.HfName!, t.Tensor)));
        File.WriteAllText(Path.Combine(hfFolder, "config.json"), JsonSerializer.Serialize(HfConfig(spec)));
        var gguf = Path.Combine(directory, "model.gguf");
        GgufWriter.Write(gguf, GgufMetadata(spec).Concat(tokenizerMetadata),
            hf.Select(t => new GgufTensorData(t.GgufName, ToGguf(spec, t))));
        return (gguf, hfFolder);
    }

    /// <summary>The tokenizer.* entries of an existing GGUF file.</summary>
    public static List<KeyValuePair<string, MetadataValue>> TokenizerMetadataOf(string ggufPath)
    {
        using var file = TensorFile.Open(ggufPath);
        return file.Metadata.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Keeps tied-unembedding logits O(1), so ggml's f16 GELU table error stays well inside the tolerance.</summary>
    private const float EmbeddingStd = 0.25f;

    private enum Layout { Plain, Conv1D, RotaryRows, Norm, HeadInterleavedQkv }

    private sealed record Param(string? HfName, string GgufName, Tensor Tensor, Layout Layout = Layout.Plain);

    private static List<Param> LlamaFamilyTensors(RandomModelSpec s, Random rng)
    {
        int d = s.DModel, q = s.NHeads * s.DHead, kv = s.NKvHeads * s.DHead;
        bool biases = s.Architecture == "qwen2", tied = s.Architecture == "gemma";
        var list = new List<Param> { new("model.embed_tokens.weight", "token_embd.weight", Normal(rng, EmbeddingStd, s.VocabSize, d)) };
        for (int l = 0; l < s.NLayers; l++)
        {
            string h = $"model.layers.{l}.", g = $"blk.{l}.";
            list.Add(new(h + "input_layernorm.weight", g + "attn_norm.weight", NormWeight(rng, d), Layout.Norm));
            foreach (var (name, gname, rows) in new[] { ("q_proj", "attn_q", q), ("k_proj", "attn_k", kv), ("v_proj", "attn_v", kv) })
            {
                var layout = name != "v_proj" && s.Architecture == "llama" ? Layout.RotaryRows : Layout.Plain;
                list.Add(new(h + $"self_attn.{name}.weight", g + gname + ".weight", Normal(rng, 1f / MathF.Sqrt(d), rows, d), layout));
                if (biases) list.Add(new(h + $"self_attn.{name}.bias", g + gname + ".bias", Normal(rng, 0.1f, rows), layout));
            }
            list.Add(new(h + "self_attn.o_proj.weight", g + "attn_output.weight", Normal(rng, 1f / MathF.Sqrt(q), d, q)));
            list.Add(new(h + "post_attention_layernorm.weight", g + "ffn_norm.weight", NormWeight(rng, d), Layout.Norm));
            list.Add(new(h + "mlp.gate_proj.weight", g + "ffn_gate.weight", Normal(rng, 1f / MathF.Sqrt(d), s.DMlp, d)));
            list.Add(new(h + "mlp.up_proj.weight", g + "ffn_up.weight", Normal(rng, 1f / MathF.Sqrt(d), s.DMlp, d)));
            list.Add(new(h + "mlp.down_proj.weight", g + "ffn_down.weight", Normal(rng, 1f / MathF.Sqrt(s.DMlp), d, s.DMlp)));
        }
        list.Add(new("model.norm.weight", "output_norm.weight", NormWeight(rng, d), Layout.Norm));
        if (!tied) list.Add(new("lm_head.weight", "output.weight", Normal(rng, 1f / MathF.Sqrt(d), s.VocabSize, d)));
        return list;
    }

    private static List<Param> Gpt2Tensors(RandomModelSpec s, Random rng)
    {
        int d = s.DModel;
        var wte = Normal(rng, EmbeddingStd, s.VocabSize, d);
        var list = new List<Param>
        {
            new("transformer.wte.weight", "token_embd.weight", wte),
            new("transformer.wpe.weight", "position_embd.weight", Normal(rng, 0.1f, s.ContextLength, d)),
        };
        for (int l = 0; l < s.NLayers; l++)
        {
            string h = $"transformer.h.{l}.", g = $"blk.{l}.";
            void Norm(string hf, string gg)
            {
                list.Add(new(h + hf + ".weight", g + gg + ".weight", NormWeight(rng, d)));
                list.Add(new(h + hf + ".bias", g + gg + ".bias", Normal(rng, 0.1f, d)));
            }
            void Conv(string hf, string gg, int inFeatures, int outFeatures)
            {
                list.Add(new(h + hf + ".weight", g + gg + ".weight", Normal(rng, 1f / MathF.Sqrt(inFeatures), inFeatures, outFeatures), Layout.Conv1D));
                list.Add(new(h + hf + ".bias", g + gg + ".bias", Normal(rng, 0.1f, outFeatures)));
            }
            Norm("ln_1", "attn_norm");
            Conv("attn.c_attn", "attn_qkv", d, 3 * d);
            Conv("attn.c_proj", "attn_output", d, d);
            Norm("ln_2", "ffn_norm");
            Conv("mlp.c_fc", "ffn_up", d, s.DMlp);
            Conv("mlp.c_proj", "ffn_down", s.DMlp, d);
        }
        list.Add(new("transformer.ln_f.weight", "output_norm.weight", NormWeight(rng, d)));
        list.Add(new("transformer.ln_f.bias", "output_norm.bias", Normal(rng, 0.1f, d)));
        // llama.cpp's converter stores GPT-2's tied unembedding as its own tensor; the HF file keeps it tied.
        list.Add(new(null, "output.weight", wte));
        return list;
    }

    private static List<Param> NeoXTensors(RandomModelSpec s, Random rng)
    {
        int d = s.DModel;
        var list = new List<Param> { new("gpt_neox.embed_in.weight", "token_embd.weight", Normal(rng, EmbeddingStd, s.VocabSize, d)) };
        void Norm(string hf, string gg)
        {
            list.Add(new(hf + ".weight", gg + ".weight", NormWeight(rng, d)));
            list.Add(new(hf + ".bias", gg + ".bias", Normal(rng, 0.1f, d)));
        }
        void Linear(string hf, string gg, int inFeatures, int outFeatures, Layout layout = Layout.Plain)
        {
            list.Add(new(hf + ".weight", gg + ".weight", Normal(rng, 1f / MathF.Sqrt(inFeatures), outFeatures, inFeatures), layout));
            list.Add(new(hf + ".bias", gg + ".bias", Normal(rng, 0.1f, outFeatures), layout));
        }
        for (int l = 0; l < s.NLayers; l++)
        {
            string h = $"gpt_neox.layers.{l}.", g = $"blk.{l}.";
            Norm(h + "input_layernorm", g + "attn_norm");
            Linear(h + "attention.query_key_value", g + "attn_qkv", d, 3 * d, Layout.HeadInterleavedQkv);
            Linear(h + "attention.dense", g + "attn_output", d, d);
            Norm(h + "post_attention_layernorm", g + "ffn_norm");
            Linear(h + "mlp.dense_h_to_4h", g + "ffn_up", d, s.DMlp);
            Linear(h + "mlp.dense_4h_to_h", g + "ffn_down", s.DMlp, d);
        }
        Norm("gpt_neox.final_layer_norm", "output_norm");
        list.Add(new("embed_out.weight", "output.weight", Normal(rng, 1f / MathF.Sqrt(d), s.VocabSize, d)));
        return list;
    }

    private static Tensor ToGguf(RandomModelSpec s, Param p)
    {
        var src = p.Tensor.Span;
        switch (p.Layout)
        {
            case Layout.Conv1D:
            {
                int rows = p.Tensor.Dim(0), cols = p.Tensor.Dim(1);
                var t = new float[src.Length];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) t[j * rows + i] = src[i * cols + j];
                return Tensor.FromArray(t, cols, rows);
            }
            case Layout.RotaryRows:
            {
                // HF row (half j, index i) of each head is Meta/GGUF row 2i + j.
                int dh = s.DHead, half = dh / 2, width = p.Tensor.Rank == 2 ? p.Tensor.Dim(1) : 1, heads = p.Tensor.Dim(0) / dh;
                var t = new float[src.Length];
                for (int h = 0; h < heads; h++)
                    for (int j = 0; j < 2; j++)
                        for (int i = 0; i < half; i++)
                            src.Slice((h * dh + j * half + i) * width, width).CopyTo(t.AsSpan((h * dh + 2 * i + j) * width, width));
                return Tensor.FromArray(t, p.Tensor.Shape.ToArray());
            }
            case Layout.HeadInterleavedQkv:
            {
                // HF rows [head][q, k, v][d] → GGUF rows [q, k, v][head][d].
                int block = s.DHead * (p.Tensor.Rank == 2 ? p.Tensor.Dim(1) : 1);
                var t = new float[src.Length];
                for (int h = 0; h < s.NHeads; h++)
                    for (int part = 0; part < 3; part++)
                        src.Slice((h * 3 + part) * block, block).CopyTo(t.AsSpan((part * s.NHeads + h) * block, block));
                return Tensor.FromArray(t, p.Tensor.Shape.ToArray());
            }
            case Layout.Norm when s.Architecture == "gemma":
                return Tensor.FromArray(src.ToArray().Select(w => w + 1f).ToArray(), p.Tensor.Shape.ToArray());
            default:
                return p.Tensor;
        }
    }

    private static List<KeyValuePair<string, MetadataValue>> GgufMetadata(RandomModelSpec s)
    {
        string a = s.Architecture;
        var m = new List<KeyValuePair<string, MetadataValue>>
        {
            new("general.architecture", a),
            new("general.name", $"random-{a}"),
            new("general.file_type", MetadataValue.From(0u)),
            new($"{a}.context_length", MetadataValue.From((uint)s.ContextLength)),
            new($"{a}.embedding_length", MetadataValue.From((uint)s.DModel)),
            new($"{a}.feed_forward_length", MetadataValue.From((uint)s.DMlp)),
            new($"{a}.block_count", MetadataValue.From((uint)s.NLayers)),
            new($"{a}.attention.head_count", MetadataValue.From((uint)s.NHeads)),
        };
        if (s.IsGpt2 || s.IsNeoX) m.Add(new($"{a}.attention.layer_norm_epsilon", MetadataValue.From(1e-5f)));
        if (s.IsGpt2) return m;
        if (s.IsNeoX)
        {
            m.Add(new($"{a}.use_parallel_residual", true));
            m.Add(new($"{a}.rope.dimension_count", MetadataValue.From((uint)s.RotaryDim)));
            m.Add(new($"{a}.rope.freq_base", MetadataValue.From(10000f)));
            return m;
        }
        m.Add(new($"{a}.attention.head_count_kv", MetadataValue.From((uint)s.NKvHeads)));
        m.Add(new($"{a}.attention.layer_norm_rms_epsilon", MetadataValue.From(1e-6f)));
        m.Add(new($"{a}.rope.freq_base", MetadataValue.From(10000f)));
        m.Add(new($"{a}.rope.dimension_count", MetadataValue.From((uint)s.DHead)));
        if (a == "gemma")
        {
            m.Add(new($"{a}.attention.key_length", MetadataValue.From((uint)s.DHead)));
            m.Add(new($"{a}.attention.value_length", MetadataValue.From((uint)s.DHead)));
        }
        return m;
    }

    private static Dictionary<string, object> HfConfig(RandomModelSpec s)
    {
        if (s.IsGpt2)
            return new()
            {
                ["architectures"] = new[] { "GPT2LMHeadModel" },
                ["model_type"] = "gpt2",
                ["n_layer"] = s.NLayers,
                ["n_embd"] = s.DModel,
                ["n_head"] = s.NHeads,
                ["n_inner"] = s.DMlp,
                ["n_positions"] = s.ContextLength,
                ["vocab_size"] = s.VocabSize,
                ["layer_norm_epsilon"] = 1e-5,
                ["activation_function"] = "gelu_new",
                ["tie_word_embeddings"] = true,
            };
        if (s.IsNeoX)
            return new()
            {
                ["architectures"] = new[] { "GPTNeoXForCausalLM" },
                ["model_type"] = "gpt_neox",
                ["hidden_size"] = s.DModel,
                ["intermediate_size"] = s.DMlp,
                ["num_hidden_layers"] = s.NLayers,
                ["num_attention_heads"] = s.NHeads,
                ["max_position_embeddings"] = s.ContextLength,
                ["rotary_pct"] = (double)s.RotaryDim / s.DHead,
                ["rotary_emb_base"] = 10000,
                ["layer_norm_eps"] = 1e-5,
                ["hidden_act"] = "gelu",
                ["use_parallel_residual"] = true,
                ["vocab_size"] = s.VocabSize,
                ["tie_word_embeddings"] = false,
            };
        var c = new Dictionary<string, object>
        {
            ["architectures"] = new[] { s.Architecture switch { "qwen2" => "Qwen2ForCausalLM", "gemma" => "GemmaForCausalLM", _ => "LlamaForCausalLM" } },
            ["model_type"] = s.Architecture,
            ["hidden_size"] = s.DModel,
            ["intermediate_size"] = s.DMlp,
            ["num_hidden_layers"] = s.NLayers,
            ["num_attention_heads"] = s.NHeads,
            ["num_key_value_heads"] = s.NKvHeads,
            ["head_dim"] = s.DHead,
            ["max_position_embeddings"] = s.ContextLength,
            ["rms_norm_eps"] = 1e-6,
            ["rope_theta"] = 10000.0,
            ["vocab_size"] = s.VocabSize,
            ["hidden_act"] = s.Architecture == "gemma" ? "gelu_pytorch_tanh" : "silu",
            ["tie_word_embeddings"] = s.Architecture == "gemma",
        };
        if (s.Architecture == "gemma") c["hidden_activation"] = "gelu_pytorch_tanh";
        return c;
    }

    private static Tensor NormWeight(Random rng, int d)
    {
        var t = Normal(rng, 0.1f, d);
        foreach (ref var w in t.Span) w += 1f;
        return t;
    }

    private static Tensor Normal(Random rng, float std, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        foreach (ref var x in t.Span)
            x = std * MathF.Sqrt(-2f * MathF.Log(1f - rng.NextSingle())) * MathF.Cos(2f * MathF.PI * rng.NextSingle());
        return t;
    }
}

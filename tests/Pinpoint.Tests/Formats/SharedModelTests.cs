using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Formats;

/// <summary>Every tensor of the shared model files loads, has the shape its config implies, and formats agree.</summary>
public class SharedModelTests
{
    [Fact]
    public void Gpt2SafetensorsMatchesConfig()
    {
        var dir = SharedData.Require("models/gpt2-random");
        var config = HfConfig.Read(Path.Combine(dir, "config.json"));
        Assert.Equal("gpt2", config.ModelType);
        Assert.Equal(["GPT2LMHeadModel"], config.Architectures!);
        Assert.Equal((96, 3, 4, 128, 401), (config.NEmbd, config.NLayer, config.NHead, config.NPositions, config.VocabSize));
        Assert.Null(config.NInner);
        Assert.Equal(1e-5, config.LayerNormEpsilon);
        Assert.Equal("gelu_new", config.ActivationFunction);
        Assert.Equal([400], config.EosTokenIds!);

        using var file = TensorFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.Equal(TensorFileFormat.Safetensors, file.Format);
        int d = config.NEmbd!.Value, v = config.VocabSize!.Value, n = config.NPositions!.Value;
        Assert.Equal("[401, 96]", file["transformer.wte.weight"].ShapeString);
        Assert.Equal($"[{n}, {d}]", file["transformer.wpe.weight"].ShapeString);
        for (int l = 0; l < config.NLayer; l++)
        {
            var p = $"transformer.h.{l}.";
            Assert.Equal($"[{d}, {3 * d}]", file[p + "attn.c_attn.weight"].ShapeString);
            Assert.Equal($"[{3 * d}]", file[p + "attn.c_attn.bias"].ShapeString);
            Assert.Equal($"[{d}, {d}]", file[p + "attn.c_proj.weight"].ShapeString);
            Assert.Equal($"[{d}, {4 * d}]", file[p + "mlp.c_fc.weight"].ShapeString);
            Assert.Equal($"[{4 * d}, {d}]", file[p + "mlp.c_proj.weight"].ShapeString);
            foreach (var ln in new[] { "ln_1", "ln_2" })
            {
                Assert.Equal($"[{d}]", file[p + ln + ".weight"].ShapeString);
                Assert.Equal($"[{d}]", file[p + ln + ".bias"].ShapeString);
            }
        }
        Assert.Equal($"[{d}]", file["transformer.ln_f.weight"].ShapeString);
        Assert.Equal(4 + 12 * config.NLayer!.Value, file.Names.Count);
        Assert.True(double.IsFinite(Touch(file)));
        Assert.Equal(v, file["transformer.wte.weight"].Dim(0));
    }

    [Fact]
    public void Gpt2GgufHoldsTheSameWeights()
    {
        var dir = SharedData.Require("models/gpt2-random");
        using var st = TensorFile.Open(Path.Combine(dir, "model.safetensors"));
        using var gguf = TensorFile.Open(Path.Combine(dir, "model.gguf"));
        Assert.Equal(TensorFileFormat.Gguf, gguf.Format);
        Assert.Equal("gpt2", gguf.GetString("general.architecture"));
        Assert.Equal(401, gguf.GetStringArray("tokenizer.ggml.tokens").Length);
        Assert.Equal(144, gguf.GetStringArray("tokenizer.ggml.merges").Length);
        Assert.Equal(400, gguf.GetInt64("tokenizer.ggml.bos_token_id"));
        Assert.False(gguf.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.Equal(3, gguf.GetInt64("gpt2.block_count"));

        AssertSame(st["transformer.wte.weight"], gguf["token_embd.weight"]);
        AssertSame(st["transformer.wpe.weight"], gguf["position_embd.weight"]);
        for (int l = 0; l < 3; l++)
        {
            string h = $"transformer.h.{l}.", b = $"blk.{l}.";
            // HF GPT-2 Conv1D weights are [in, out]; GGUF stores nn.Linear's [out, in].
            AssertSame(st[h + "attn.c_attn.weight"].Transpose(0, 1), gguf[b + "attn_qkv.weight"]);
            AssertSame(st[h + "attn.c_attn.bias"], gguf[b + "attn_qkv.bias"]);
            AssertSame(st[h + "attn.c_proj.weight"].Transpose(0, 1), gguf[b + "attn_output.weight"]);
            AssertSame(st[h + "mlp.c_fc.weight"].Transpose(0, 1), gguf[b + "ffn_up.weight"]);
            AssertSame(st[h + "mlp.c_proj.weight"].Transpose(0, 1), gguf[b + "ffn_down.weight"]);
            AssertSame(st[h + "ln_1.weight"], gguf[b + "attn_norm.weight"]);
            AssertSame(st[h + "ln_2.bias"], gguf[b + "ffn_norm.bias"]);
        }
        AssertSame(st["transformer.ln_f.weight"], gguf["output_norm.weight"]);
        Assert.True(double.IsFinite(Touch(gguf)));
    }

    [Fact]
    public void StoriesSafetensorsMatchesConfig()
    {
        var dir = SharedData.Require("models/stories260K/hf");
        var c = HfConfig.Read(Path.Combine(dir, "config.json"));
        Assert.Equal(("llama", 64, 172, 5, 8, 4, 512, 512), (c.ModelType, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers,
            c.NumAttentionHeads, c.NumKeyValueHeads, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.Equal((1e-5, 10000.0, "silu", true, 1), (c.RmsNormEps, c.RopeTheta, c.HiddenAct, c.TieWordEmbeddings, c.BosTokenId));
        using var file = TensorFile.Open(Path.Combine(dir, "model.safetensors"));
        Assert.Equal("pt", file.GetString("format"));
        int d = 64, kv = 32, f = 172;
        Assert.Equal("[512, 64]", file["model.embed_tokens.weight"].ShapeString);
        for (int l = 0; l < 5; l++)
        {
            var p = $"model.layers.{l}.";
            Assert.Equal($"[{d}, {d}]", file[p + "self_attn.q_proj.weight"].ShapeString);
            Assert.Equal($"[{kv}, {d}]", file[p + "self_attn.k_proj.weight"].ShapeString);
            Assert.Equal($"[{kv}, {d}]", file[p + "self_attn.v_proj.weight"].ShapeString);
            Assert.Equal($"[{d}, {d}]", file[p + "self_attn.o_proj.weight"].ShapeString);
            Assert.Equal($"[{f}, {d}]", file[p + "mlp.gate_proj.weight"].ShapeString);
            Assert.Equal($"[{f}, {d}]", file[p + "mlp.up_proj.weight"].ShapeString);
            Assert.Equal($"[{d}, {f}]", file[p + "mlp.down_proj.weight"].ShapeString);
        }
        Assert.Equal(2 + 9 * 5, file.Names.Count);
        Assert.True(double.IsFinite(Touch(file)));
    }

    [Fact]
    public void StoriesBinMatchesSafetensorsWithRotateHalfPermutation()
    {
        var root = SharedData.Require("models/stories260K");
        using var bin = TensorFile.Open(Path.Combine(root, "stories260K.bin"));
        using var hf = TensorFile.Open(Path.Combine(root, "hf", "model.safetensors"));
        Assert.Equal(TensorFileFormat.Llama2c, bin.Format);
        Assert.Equal(0, bin.GetInt64("llama2c.version"));
        Assert.True(bin.GetBool("llama2c.shared_classifier"));
        Assert.Equal(512, bin.GetInt64("llama2c.max_seq_len"));
        Assert.False(bin.TryGetTensor("output.weight", out _));
        Assert.Equal(2 + 9 * 5, bin.Names.Count);

        AssertSame(hf["model.embed_tokens.weight"], bin["tok_embeddings.weight"]);
        AssertSame(hf["model.norm.weight"], bin["norm.weight"]);
        for (int l = 0; l < 5; l++)
        {
            string h = $"model.layers.{l}.", b = $"layers.{l}.";
            AssertSame(hf[h + "self_attn.q_proj.weight"], ToRotateHalf(bin[b + "attention.wq.weight"], 8));
            AssertSame(hf[h + "self_attn.k_proj.weight"], ToRotateHalf(bin[b + "attention.wk.weight"], 4));
            // Without the permutation q differs: the test really checks the layout.
            Assert.True(MaxAbsDiff(hf[h + "self_attn.q_proj.weight"], bin[b + "attention.wq.weight"]) > 1e-3);
            AssertSame(hf[h + "self_attn.v_proj.weight"], bin[b + "attention.wv.weight"]);
            AssertSame(hf[h + "self_attn.o_proj.weight"], bin[b + "attention.wo.weight"]);
            AssertSame(hf[h + "mlp.gate_proj.weight"], bin[b + "feed_forward.w1.weight"]);
            AssertSame(hf[h + "mlp.down_proj.weight"], bin[b + "feed_forward.w2.weight"]);
            AssertSame(hf[h + "mlp.up_proj.weight"], bin[b + "feed_forward.w3.weight"]);
            AssertSame(hf[h + "input_layernorm.weight"], bin[b + "attention_norm.weight"]);
            AssertSame(hf[h + "post_attention_layernorm.weight"], bin[b + "ffn_norm.weight"]);
        }
    }

    /// <summary>
    /// llama.cpp's llama2c converter copies weights as they are: GGUF q/k keep llama2.c's interleaved-pair
    /// layout (llama.cpp's "normal" RoPE), and the tied classifier is written out as output.weight.
    /// </summary>
    [Fact]
    public void StoriesGgufKeepsLlama2cLayout()
    {
        var root = SharedData.Require("models/stories260K");
        using var bin = TensorFile.Open(Path.Combine(root, "stories260K.bin"));
        using var gguf = TensorFile.Open(Path.Combine(root, "stories260K.gguf"));
        Assert.Equal("llama", gguf.GetString("general.architecture"));
        Assert.Equal(512, gguf.GetStringArray("tokenizer.ggml.tokens").Length);
        Assert.Equal(512, gguf.GetFloatArray("tokenizer.ggml.scores").Length);
        Assert.Equal([2, 3, 3], gguf.GetInt32Array("tokenizer.ggml.token_type")[..3]);
        Assert.Equal(1, gguf.GetInt64("tokenizer.ggml.bos_token_id"));
        Assert.Equal(8, gguf.GetInt64("llama.attention.head_count"));
        Assert.Equal(4, gguf.GetInt64("llama.attention.head_count_kv"));

        AssertSame(bin["tok_embeddings.weight"], gguf["token_embd.weight"]);
        AssertSame(bin["tok_embeddings.weight"], gguf["output.weight"]);
        AssertSame(bin["norm.weight"], gguf["output_norm.weight"]);
        for (int l = 0; l < 5; l++)
        {
            string b = $"layers.{l}.", g = $"blk.{l}.";
            AssertSame(bin[b + "attention.wq.weight"], gguf[g + "attn_q.weight"]);
            AssertSame(bin[b + "attention.wk.weight"], gguf[g + "attn_k.weight"]);
            AssertSame(bin[b + "attention.wv.weight"], gguf[g + "attn_v.weight"]);
            AssertSame(bin[b + "attention.wo.weight"], gguf[g + "attn_output.weight"]);
            AssertSame(bin[b + "feed_forward.w1.weight"], gguf[g + "ffn_gate.weight"]);
            AssertSame(bin[b + "feed_forward.w2.weight"], gguf[g + "ffn_down.weight"]);
            AssertSame(bin[b + "feed_forward.w3.weight"], gguf[g + "ffn_up.weight"]);
            AssertSame(bin[b + "attention_norm.weight"], gguf[g + "attn_norm.weight"]);
            AssertSame(bin[b + "ffn_norm.weight"], gguf[g + "ffn_norm.weight"]);
        }
        Assert.Equal(3 + 9 * 5, gguf.Names.Count);
    }
}

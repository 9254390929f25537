using System.Text.Json;

namespace Pinpoint.Tests.Cli;

/// <summary>info, run, generate and selfcheck on the shared models, through <c>CliApp.Run</c> with captured output.</summary>
public class CliCommandTests
{
    private const string Prompt = "Once upon a time";

    private static bool IsStories(string model) => model.StartsWith("stories", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Cli.Models), MemberType = typeof(Cli))]
    public void InfoJsonDescribesTheModel(string model)
    {
        var info = Cli.RunOn("info", model, "--json").Json();
        bool stories = IsStories(model);
        Assert.Equal(stories ? "llama" : "gpt2", info.GetProperty("architecture").GetString());
        Assert.Equal(stories ? 64 : 96, info.GetProperty("d_model").GetInt32());
        Assert.Equal(stories ? 5 : 3, info.GetProperty("n_layers").GetInt32());
        Assert.Equal(stories ? 8 : 4, info.GetProperty("n_heads").GetInt32());
        Assert.Equal(stories ? 4 : 4, info.GetProperty("n_kv_heads").GetInt32());
        Assert.Equal(stories ? 8 : 24, info.GetProperty("d_head").GetInt32());
        Assert.Equal(stories ? 172 : 384, info.GetProperty("d_mlp").GetInt32());
        Assert.Equal(stories ? 512 : 401, info.GetProperty("vocab_size").GetInt32());
        // llama.cpp's llama2c converter writes a context of 128 into the GGUF.
        Assert.Equal(model == "stories-bin" || model == "stories-hf" ? 512 : 128, info.GetProperty("context_length").GetInt32());
        Assert.Equal(stories ? "rms_norm" : "layer_norm", info.GetProperty("norm").GetString());
        Assert.Equal(stories ? "silu" : "gelu_tanh", info.GetProperty("activation").GetString());
        Assert.Equal(stories, info.GetProperty("gated_mlp").GetBoolean());
        Assert.Equal(model.EndsWith("gguf") ? "gguf" : model.EndsWith("bin") ? "llama2c" : "safetensors", info.GetProperty("format").GetString());
        Assert.True(info.GetProperty("parameter_count").GetInt64() > 0);
        Assert.Contains(info.GetProperty("dtypes").EnumerateArray().Select(d => d.GetString()), d => d is "f32" or "f16" or "bf16");
        if (stories)
        {
            Assert.Equal("rotary", info.GetProperty("positions").GetString());
            var rope = info.GetProperty("rope");
            Assert.Equal(10000f, rope.GetProperty("theta").GetSingle());
            Assert.Equal(8, rope.GetProperty("rotary_dim").GetInt32());
            Assert.Contains(rope.GetProperty("layout").GetString(), new[] { "half", "interleaved" });
        }
        else
        {
            Assert.Equal("learned", info.GetProperty("positions").GetString());
            Assert.False(info.TryGetProperty("rope", out _));
        }

        var tokenizer = info.GetProperty("tokenizer");
        Assert.Equal(stories ? 512 : 401, tokenizer.GetProperty("vocab_size").GetInt32());
        Assert.Equal(stories, tokenizer.GetProperty("adds_bos").GetBoolean());
        Assert.False(string.IsNullOrEmpty(tokenizer.GetProperty("kind").GetString()));
        if (stories) Assert.Equal(1, tokenizer.GetProperty("bos_id").GetInt32());

        var hooks = info.GetProperty("hooks").EnumerateArray().Select(h => h.GetString()!).ToList();
        Assert.Equal(hooks.Count, hooks.Distinct().Count());
        Assert.Equal("hook_embed", hooks[0]);
        Assert.Equal("ln_final.hook_normalized", hooks[^1]);
        Assert.Contains(stories ? "blocks.4.attn.hook_rot_q" : "hook_pos_embed", hooks);
    }

    [Fact]
    public void InfoTableIsPlainTextWithHookPatterns()
    {
        var r = Cli.RunOn("info", "stories-bin");
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        Assert.DoesNotContain('\u001b', r.Out);
        Assert.Contains("blocks.{0..4}.attn.hook_q", r.Out);
        Assert.DoesNotContain("blocks.3.", r.Out);
        Assert.Contains("rms_norm", r.Out);
        Assert.Contains("260,032", r.Out);
    }

    [Theory]
    [MemberData(nameof(Cli.Models), MemberType = typeof(Cli))]
    public void RunJsonTopMatchesTheLogits(string model)
    {
        var run = Cli.RunOn("run", model, "--prompt", Prompt, "--top", "5", "--logits", "--json").Json();
        Assert.Equal(["ids", "tokens", "top", "logits"], run.EnumerateObject().Select(p => p.Name));
        var ids = run.GetProperty("ids").Ints();
        var tokens = run.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).ToArray();
        Assert.Equal(ids.Length, tokens.Length);
        Assert.Equal(IsStories(model), ids[0] == 1);
        var logits = run.GetProperty("logits").Floats();
        Assert.Equal(IsStories(model) ? 512 : 401, logits.Length);

        var top = run.GetProperty("top").EnumerateArray().ToArray();
        Assert.Equal(5, top.Length);
        Assert.Equal(["id", "token", "logit", "prob"], top[0].EnumerateObject().Select(p => p.Name));
        int argmax = Array.IndexOf(logits, logits.Max());
        Assert.Equal(argmax, top[0].GetProperty("id").GetInt32());
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max)), total = 0;
        for (int i = 0; i < top.Length; i++)
        {
            int id = top[i].GetProperty("id").GetInt32();
            Assert.Equal(logits[id], top[i].GetProperty("logit").GetSingle());
            Assert.Equal(Math.Exp(logits[id] - max) / sum, top[i].GetProperty("prob").GetDouble(), 1e-9);
            Assert.Equal(JsonValueKind.String, top[i].GetProperty("token").ValueKind);
            if (i > 0) Assert.True(top[i - 1].GetProperty("logit").GetSingle() >= top[i].GetProperty("logit").GetSingle());
            total += top[i].GetProperty("prob").GetDouble();
        }
        Assert.InRange(total, 0, 1 + 1e-9);
    }

    [Theory]
    [MemberData(nameof(Cli.Models), MemberType = typeof(Cli))]
    public void RunWithIdsEqualsTheEquivalentPrompt(string model)
    {
        var byPrompt = Cli.RunOn("run", model, "--prompt", Prompt, "--logits", "--json");
        var ids = byPrompt.Json().GetProperty("ids").Ints();
        var byIds = Cli.RunOn("run", model, "--ids", string.Join(",", ids), "--logits", "--json");
        Assert.Equal(0, byIds.Code);
        Assert.Equal(byPrompt.Out, byIds.Out);
    }

    [Fact]
    public void RunOmitsLogitsUnlessAskedAndPrintsATable()
    {
        var json = Cli.RunOn("run", "gpt2-gguf", "--prompt", Prompt, "--json").Json();
        Assert.False(json.TryGetProperty("logits", out _));
        Assert.Equal(10, json.GetProperty("top").GetArrayLength());

        var table = Cli.RunOn("run", "stories-bin", "--prompt", Prompt, "--top", "3");
        Assert.Equal(0, table.Code);
        Assert.DoesNotContain('\u001b', table.Out);
        Assert.Contains("\" Once\"", table.Out);
        Assert.Contains("\",\"", table.Out);
    }

    [Theory]
    [MemberData(nameof(Cli.StoriesModels), MemberType = typeof(Cli))]
    public void GreedyGenerationFollowsRunC(string model)
    {
        var reference = JsonDocument.Parse(File.ReadAllText(SharedData.Require("models/stories260K/reference.json")))
            .RootElement.GetProperty("greedy_runc_256_from_BOS_prompt_Once_upon_a_time").GetString()!;
        var gen = Cli.RunOn("generate", model, "--prompt", Prompt, "-n", "40", "--json").Json();
        Assert.Equal(["prompt_ids", "ids", "text", "stop"], gen.EnumerateObject().Select(p => p.Name));
        Assert.Equal(40, gen.GetProperty("ids").GetArrayLength());
        var text = gen.GetProperty("text").GetString()!;
        Assert.StartsWith(", there was a little girl", text);
        Assert.StartsWith(Prompt + text, reference);

        var plain = Cli.RunOn("generate", model, "--prompt", Prompt, "--max-new-tokens", "40");
        Assert.Equal(0, plain.Code);
        Assert.Equal(Prompt + text + Environment.NewLine, plain.Out);
    }

    [Fact]
    public void SampledGenerationIsDeterministicForASeed()
    {
        string[] sampling = ["--prompt", Prompt, "-n", "12", "--temperature", "1", "--top-k", "50", "--top-p", "0.95", "--json"];
        var first = Cli.RunOn("generate", "gpt2-hf", [.. sampling, "--seed", "7"]);
        var again = Cli.RunOn("generate", "gpt2-hf", [.. sampling, "--seed", "7"]);
        var other = Cli.RunOn("generate", "gpt2-hf", [.. sampling, "--seed", "8"]);
        Assert.Equal(first.Out, again.Out);
        Assert.NotEqual(first.Out, other.Out);
        var gen = first.Json();
        var run = Cli.RunOn("run", "gpt2-hf", "--prompt", Prompt, "--json").Json();
        Assert.Equal(run.GetProperty("ids").Ints(), gen.GetProperty("prompt_ids").Ints());
        Assert.InRange(gen.GetProperty("ids").GetArrayLength(), 1, 12);
        Assert.All(gen.GetProperty("ids").Ints(), id => Assert.InRange(id, 0, 400));
    }

    [Fact]
    public void SelfCheckReportsKernelThreadsAndGemm()
    {
        var check = Cli.Run("selfcheck", "--json").Json();
        var paths = check.GetProperty("supported_paths").EnumerateArray().Select(p => p.GetString()).ToList();
        Assert.Contains(check.GetProperty("kernel_path").GetString(), paths);
        Assert.Contains("scalar", paths);
        var cpu = check.GetProperty("cpu");
        foreach (var flag in new[] { "avx512", "avx2", "fma" }) Assert.Contains(cpu.GetProperty(flag).ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        Assert.True(check.GetProperty("threads").GetInt32() >= 1);
        Assert.True(check.GetProperty("gemm_check").GetProperty("ok").GetBoolean());
        var gemm = check.GetProperty("gemm");
        Assert.Equal(256, gemm.GetProperty("m").GetInt32());
        Assert.True(gemm.GetProperty("gflops").GetDouble() > 0);

        var table = Cli.Run("selfcheck");
        Assert.Equal(0, table.Code);
        Assert.Contains("GFLOP/s", table.Out);
    }

    [Fact]
    public void HelpListsCommandsAndOptions()
    {
        var help = Cli.Run("--help");
        Assert.Equal(0, help.Code);
        foreach (var c in new[] { "info", "run", "generate", "selfcheck" }) Assert.Contains($"  {c} ", help.Out);

        var run = Cli.Run("run", "--help");
        Assert.Equal(0, run.Code);
        foreach (var o in new[] { "--model PATH", "--prompt TEXT", "--ids", "--top K", "--logits", "--json" }) Assert.Contains(o, run.Out);
        Assert.Contains("-n, --max-new-tokens N", Cli.Run("generate", "-h").Out);
        Assert.Contains("""{"ids":[int],"tokens":[string],"top":[{"id":int,"token":string,"logit":number,"prob":number}],"logits?":[number]}""", run.Out);
        Assert.Contains("""{"prompt_ids":[int],"ids":[int],"text":string,"stop":string}""", Cli.Run("generate", "--help").Out);

        var none = Cli.Run();
        Assert.Equal(2, none.Code);
        Assert.Equal("", none.Out);
        Assert.Contains("usage", none.Err);
    }
}

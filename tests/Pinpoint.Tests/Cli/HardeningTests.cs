using Pinpoint.Engine.Kernels;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;

namespace Pinpoint.Tests.Cli;

/// <summary>What issue 11 fixed on good (or borderline) input: the command works, and says what it did.</summary>
public sealed class HardeningTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-hard-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void KernelRequestsAreCheckedWithoutTouchingTheKernels()
    {
        KernelPaths.CheckRequest(null);
        KernelPaths.CheckRequest("");
        KernelPaths.CheckRequest("scalar");
        KernelPaths.CheckRequest("SCALAR");
        foreach (var bad in new[] { "avx9", "7", "-1", "Scalar,Avx2" })
            Assert.Contains($"PINPOINT_KERNEL={bad}", Assert.Throws<ArgumentException>(() => KernelPaths.CheckRequest(bad)).Message);
    }

    [Fact]
    public void TokenizersAreRecognisedByContent()
    {
        var folder = SharedData.Require("models/gpt2-random");
        var renamed = Path.Combine(_temp, "mytok.json");
        File.Copy(Path.Combine(folder, "tokenizer.json"), renamed);
        var own = Cli.Run("run", "--model", folder, "--prompt", "hello world", "--json").Json();
        var other = Cli.Run("run", "--model", folder, "--tokenizer", renamed, "--prompt", "hello world", "--json").Json();
        Assert.Equal(own.GetProperty("ids").Ints(), other.GetProperty("ids").Ints());

        // A GGUF file's metadata is a tokenizer too.
        var bin = SharedData.Require("models/stories260K/stories260K.bin");
        var fromBin = Cli.Run("run", "--model", bin, "--prompt", "Once upon a time", "--json").Json();
        var fromGguf = Cli.Run("run", "--model", bin, "--tokenizer", SharedData.Require("models/stories260K/stories260K.gguf"), "--prompt", "Once upon a time", "--json").Json();
        Assert.Equal(fromBin.GetProperty("ids").Ints(), fromGguf.GetProperty("ids").Ints());
    }

    [Fact]
    public void GenerationBeyondTheContextSaysSo()
    {
        var r = Cli.RunOn("generate", "stories-bin", "--prompt", "Once", "-n", "600", "--json");
        var json = r.Json();
        int prompt = json.GetProperty("prompt_ids").GetArrayLength();
        Assert.Equal("context_full", json.GetProperty("stop").GetString());
        Assert.Equal(512 - prompt + 1, json.GetProperty("ids").GetArrayLength());
        Assert.Contains("of the 600 new tokens", r.Err);
        Assert.Contains("context of 512", r.Err);

        var shortRun = Cli.RunOn("generate", "stories-bin", "--prompt", "Once", "-n", "3", "--json");
        Assert.Equal("max_new_tokens", shortRun.Json().GetProperty("stop").GetString());
        Assert.Equal("", shortRun.Err);
    }

    [Fact]
    public void NonFiniteWeightsLoadWithAWarningWhenAllowed()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_temp, "nan")).FullName;
        var source = SharedData.Require("models/gpt2-random");
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        var weights = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        int dataStart = 8 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        bytes.AsSpan(dataStart, 4).Fill(0xFF);
        File.WriteAllBytes(weights, bytes);

        var e = Assert.Throws<Pinpoint.Models.Formats.ModelFormatException>(() => ModelLoader.Load(folder));
        Assert.Contains("tensor '", e.Message);
        var found = new List<NonFiniteWeight>();
        using (ModelLoader.Load(folder, onNonFinite: found.Add)) { }
        Assert.Single(found);

        var r = Cli.Run("info", "--model", folder, "--allow-nonfinite", "--json");
        r.Json();
        Assert.Contains($"tensor '{found[0].Tensor}' holds 1 non-finite value", r.Err);
        Assert.Contains("--allow-nonfinite", r.Err);
    }

    [Fact]
    public void ShortRunsShortenTheDefaultWarmUpAndSaySo()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var config = Path.Combine(_temp, "tiny.json");
        File.WriteAllText(config, $$"""
            {"architecture": "gpt2", "d_model": 16, "n_layers": 1, "n_heads": 2, "context": 16, "vocab_size": 300, "batch_size": 2,
             "eval_every": 2, "eval_batches": 1, "checkpoint_every": 0, "corpus": ["{{corpus}}"], "metrics": []}
            """);
        var r = Cli.Run("train", "--config", config, "--out", Path.Combine(_temp, "run"), "--steps", "3", "--json");
        Assert.Equal(3, r.Json().GetProperty("step").GetInt32());
        Assert.Contains("warm-up shortened from 100 to 0 steps to fit --steps 3", r.Err);
    }

    [Fact]
    public void ExplainOptionsAreCheckedAgainstTheModel()
    {
        using var loaded = ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.bin"));
        int max = Explainer.MaxVerifyK(loaded.Model.Config);
        Assert.Equal(5 * (8 + 172), max);
        new ExplainOptions { VerifyK = max }.Check(loaded.Model.Config);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ExplainOptions { VerifyK = max + 1 }.Check(loaded.Model.Config));
        Assert.DoesNotContain("--", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Explainer.Explain(loaded, ExplainRequest.ArticleExample, new ExplainOptions { VerifyK = max + 1 }));
    }
}

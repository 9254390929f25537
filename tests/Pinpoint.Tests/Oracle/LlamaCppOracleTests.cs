using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Oracle;

/// <summary>
/// Every architecture against llama.cpp: random weights written as GGUF and as an HF folder, logits of every position
/// from llama.cpp (on the GGUF), from our loader on the GGUF and from our loader on the HF folder.
/// </summary>
public class LlamaCppOracleTests
{
    private static readonly int[] Tokens = [1, 17, 250, 33, 399, 5, 88, 120, 300, 42, 7, 64, 200, 150, 9, 380];

    /// <summary>Architecture, its model sizes, and the max |Δlogit| allowed against llama.cpp.</summary>
    public static TheoryData<string, double> Architectures => new()
    {
        { "llama", 1e-3 },
        { "qwen2", 1e-3 },
        // ggml evaluates GELU through an f16 lookup table.
        { "gpt2", 1e-2 },
        { "gemma", 1e-2 },
        // Also tanh (llama.cpp) against exact (Pythia, our loaders) GELU.
        { "gptneox", 1e-2 },
    };

    private static (string Gguf, string HfTokenizer) Tokenizer(RandomModelSpec spec)
    {
        var (gguf, hf) = RandomModels.SharedTokenizer(spec);
        return (SharedData.Require(gguf), SharedData.Require(hf));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void RandomModelMatchesLlamaCppInBothFormats(string arch, double tolerance)
    {
        var spec = RandomModels.SmallSpec(arch);
        var (tokenizerGguf, hfTokenizer) = Tokenizer(spec);
        var dir = Directory.CreateTempSubdirectory($"pinpoint-oracle-{arch}-").FullName;
        try
        {
            var (gguf, hf) = RandomModels.Write(spec, dir, RandomModels.TokenizerMetadataOf(tokenizerGguf), seed: 1234);
            CompareThree(gguf, hf, hfTokenizer, tolerance);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SharedGpt2RandomMatchesLlamaCppInBothFormats()
    {
        var dir = SharedData.Require("models/gpt2-random");
        CompareThree(Path.Combine(dir, "model.gguf"), dir, null, 1e-2);
    }

    private static void CompareThree(string gguf, string hfFolder, string? hfTokenizer, double tolerance)
    {
        float[] reference;
        using (var llama = new LlamaCppModel(gguf, Tokens.Length)) reference = llama.Evaluate(Tokens);
        var fromGguf = Logits(ModelLoader.Load(gguf));
        var fromHf = Logits(ModelLoader.Load(hfFolder, hfTokenizer));
        Assert.Equal(reference.Length, fromGguf.Length);
        double vsLlama = MaxAbsDiff(reference, fromGguf), vsHf = MaxAbsDiff(fromGguf, fromHf);
        Assert.True(reference.Max(Math.Abs) > 0.1, "llama.cpp's logits are degenerate");
        Assert.True(vsLlama <= tolerance, $"GGUF vs llama.cpp: max |Δlogit| {vsLlama:G3} > {tolerance:G3}");
        Assert.True(vsHf <= 1e-4, $"GGUF vs HF folder: max |Δlogit| {vsHf:G3} > 1e-4");
    }

    private static float[] Logits(LoadedModel loaded)
    {
        using (loaded) return loaded.Model.Forward(Compute.Eager, TokenBatch.Single(Tokens)).ToArray();
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
}

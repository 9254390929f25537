using System.Text.RegularExpressions;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Library;

/// <summary>
/// The README's "for TransformerLens users" examples, compiled and run here. The code between each
/// <c>// README: name</c> and <c>// END</c> must appear verbatim in README.md, at most 15 lines.
/// </summary>
public partial class TransformerLensReadmeTests
{
    private static readonly string modelPath = Pinpoint.Cli.ModelOptions.DefaultModelPath;

    [Fact]
    public void RunWithCache()
    {
        // README: run_with_cache
        using var model = ModelLoader.Load(modelPath);                 // HF folder, GGUF or llama2.c .bin
        var (logits, cache) = model.RunWithCache("The cat sat on the");
        Tensor pattern = cache["blocks.0.attn.hook_pattern"];          // [batch, head, query, key]
        float[] lastQuery = pattern[0, 3, ^1, ..].ToArray();           // head 3, last position
        Console.WriteLine(string.Join(" ", lastQuery.Select(p => p.ToString("F2"))));
        // END
        Assert.Equal(1.0, lastQuery.Sum(), 4);
        Assert.Equal([1, 5, model.Model.Config.VocabSize], logits.Shape.ToArray());
    }

    [Fact]
    public void RunWithHooks()
    {
        // README: run_with_hooks
        using var model = ModelLoader.Load(modelPath);
        HookFunction zeroHead3 = (z, hookName) =>                      // return null to leave it unchanged
        {
            var edited = z.Clone();
            edited[.., .., 3].Fill(0);                                   // z[:, :, 3] = 0
            return edited;
        };
        Tensor ablated = model.RunWithHooks("The cat sat on the", [("blocks.1.attn.hook_z", zeroHead3)]);
        // END
        var (clean, _) = model.RunWithCache("The cat sat on the", _ => false);
        Assert.NotEqual(clean.ToArray(), ablated.ToArray());
        var traced = model.Trace("The cat sat on the").Edit("blocks.1.attn.hook_z", z => z[.., .., 3].Fill(0)).Run().Logits;
        Assert.Equal(traced.ToArray(), ablated.ToArray());
    }

    [Fact]
    public void TraceEditAndSave()
    {
        // README: trace
        using var model = ModelLoader.Load(modelPath);
        var metric = Metrics.LogitDiff(model.TokenId(" mat"), model.TokenId(" dog"));
        TraceResult run = model.Trace("The cat sat on the")
            .Edit("blocks.1.attn.hook_z", z => z[.., ^1, 3].Fill(0))   // head 3, last position only
            .Save("blocks.1.hook_resid_post")
            .Run(metric);
        Console.WriteLine($"logit diff {run.Metric:F3}, resid {run["blocks.1.hook_resid_post"].ShapeString}");
        // END
        Assert.Equal([1, 5, model.Model.Config.DModel], run["blocks.1.hook_resid_post"].Shape.ToArray());
        var clean = model.Trace("The cat sat on the").Run(metric);
        Assert.NotEqual(clean.Metric, run.Metric);
    }

    [Fact]
    public void Gradients()
    {
        // README: grad
        using var model = ModelLoader.Load(modelPath);
        var metric = Metrics.LogitDiff(model.TokenId(" mat"), model.TokenId(" dog"));
        TraceResult run = model.Trace("The cat sat on the")
            .Grad("blocks.0.hook_resid_post", "blocks.0.attn.o.W")     // any hook or weight (model.WeightNames)
            .Run(metric);                                               // any scalar: (cx, logits) => Tensor
        Tensor residGrad = run.Grad("blocks.0.hook_resid_post");        // same shape as the activation
        Tensor weightGrad = run.Grad("blocks.0.attn.o.W");
        // END
        Assert.Equal([1, 5, model.Model.Config.DModel], residGrad.Shape.ToArray());
        Assert.Equal(model.Model.Weight("blocks.0.attn.o.W").Shape.ToArray(), weightGrad.Shape.ToArray());
        Assert.Contains(weightGrad.ToArray(), g => g != 0);
    }

    [Fact]
    public void ReadmeShowsEachExampleVerbatimInAtMost15Lines()
    {
        var source = File.ReadAllText(Path.Combine(SharedData.RepoRoot, "tests", "Pinpoint.Tests", "Library", "TransformerLensReadmeTests.cs"));
        var readme = File.ReadAllText(Path.Combine(SharedData.RepoRoot, "README.md"));
        var blocks = Region().Matches(source).ToList();
        Assert.Equal(4, blocks.Count);
        foreach (var block in blocks)
        {
            var lines = block.Groups["code"].Value.TrimEnd().Split('\n').Select(l => l.Length >= 8 ? l[8..] : l.Trim()).ToList();
            Assert.True(lines.Count <= 15, $"{block.Groups["name"].Value}: {lines.Count} lines");
            Assert.Contains("```csharp\n" + string.Join('\n', lines) + "\n```", readme);
        }
    }

    [GeneratedRegex(@"// README: (?<name>\S+)\n(?<code>.*?)\n\s*// END", RegexOptions.Singleline)]
    private static partial Regex Region();
}

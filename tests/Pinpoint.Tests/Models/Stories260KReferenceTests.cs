using System.Text.Json;
using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Models;

/// <summary>stories260K in all three formats against llama.cpp's logits and run.c's greedy text (reference.json).</summary>
public class Stories260KReferenceTests
{
    public static TheoryData<string> Formats => new() { "bin", "gguf", "hf" };

    private static LoadedModel Open(string format)
    {
        var dir = SharedData.Require("models/stories260K");
        return format switch
        {
            "bin" => ModelLoader.Load(Path.Combine(dir, "stories260K.bin")),
            "gguf" => ModelLoader.Load(Path.Combine(dir, "stories260K.gguf")),
            _ => ModelLoader.Load(Path.Combine(dir, "hf"), Path.Combine(dir, "tok512.model")),
        };
    }

    private static JsonElement Reference()
    {
        var path = SharedData.Require("models/stories260K/reference.json");
        return JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void IdsAndLastLogitsMatchLlamaCpp(string format)
    {
        var reference = Reference();
        using var loaded = Open(format);
        foreach (var c in reference.GetProperty("cases").EnumerateArray())
        {
            var expectedIds = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var ids = loaded.Encode(c.GetProperty("prompt").GetString()!);
            Assert.Equal(expectedIds, ids);
            var logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
            var last = logits[^loaded.Model.Config.VocabSize..];
            var expected = c.GetProperty("logits_last").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double maxDiff = expected.Select((e, i) => Math.Abs(e - last[i])).Max();
            Assert.True(maxDiff <= 1e-4, $"{format}: max |Δlogit| {maxDiff:G3} > 1e-4");
        }
    }

    [Fact]
    public void AllFormatsGiveTheSameLogits()
    {
        var ids = new[] { 1, 403, 407, 261, 378 };
        var logits = Formats.Select(f => f.Data).Select(f =>
        {
            using var loaded = Open(f);
            return loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
        }).ToList();
        for (int m = 1; m < logits.Count; m++)
            Assert.True(logits[0].Zip(logits[m], (a, b) => Math.Abs(a - b)).Max() <= 1e-4);
    }

    [Fact]
    public void GreedyGenerationReproducesRunC()
    {
        var reference = Reference();
        var expected = reference.GetProperty("greedy_runc_256_from_BOS_prompt_Once_upon_a_time").GetString()!;
        using var loaded = Open("bin");
        var prompt = loaded.Encode("Once upon a time");
        // run.c runs forward at positions 0..255 (prompt included, BOS at 0); each position after the prompt's
        // last token emits one new token, so it generates 256 - prompt.Length + 1 tokens.
        var generated = loaded.Model.Generate(prompt, 257 - prompt.Length, new SamplingOptions());
        var text = loaded.Tokenizer.Decode(prompt.Concat(generated).ToArray(), skipSpecial: true);
        Assert.Equal(expected.Trim(), text.Trim());
    }
}

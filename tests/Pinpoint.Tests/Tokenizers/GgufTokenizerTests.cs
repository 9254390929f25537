using System.Text.Json;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

public class GgufTokenizerTests
{
    [Fact]
    public void Gpt2FromArraysMatchesTokenizerJson()
    {
        var path = SharedData.Require("models/gpt2-random/tokenizer.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var model = doc.RootElement.GetProperty("model");
        var tokens = new string[401];
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) tokens[p.Value.GetInt32()] = p.Name;
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray();
        var types = tokens.Select((_, i) => i == 400 ? 3 : 1).ToArray();

        using var fromJson = HfTokenizer.Load(path);
        using var fromGguf = GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens, TokenTypes: types, Merges: merges, BosId: null, EosId: 400));
        Assert.Equal(401, fromGguf.VocabSize);
        Assert.Null(fromGguf.Bos);
        Assert.Equal(400, fromGguf.Eos);
        Assert.False(fromGguf.AddsBosByDefault);
        var texts = TextSamples.Varied.Concat(File.ReadLines(SharedData.Require("corpus/tinyshakespeare.txt")).Take(300));
        foreach (var text in texts)
        {
            var ids = fromJson.Encode(text, addBos: false);
            Assert.Equal(ids, fromGguf.Encode(text));
            Assert.Equal(text, fromGguf.Decode(ids));
        }
        for (var id = 0; id < 401; id++) Assert.Equal(fromJson.TokenText(id), fromGguf.TokenText(id));
    }

    [Fact]
    public void RejectsIncompleteMetadata()
    {
        string[] tokens = ["a", "b"];
        Assert.Throws<ArgumentException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("llama", tokens)));
        Assert.Throws<ArgumentException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens)));
        Assert.Throws<ArgumentException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens, Merges: ["a b c"])));
        Assert.Throws<ArgumentException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("llama", tokens, Scores: [0f])));
        Assert.Contains("bert", Assert.Throws<NotSupportedException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("bert", tokens))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("llama", tokens, Scores: [0f, 0f], BosId: 7)));
    }
}

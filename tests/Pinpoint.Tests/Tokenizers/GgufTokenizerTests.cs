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
    public void Llama3PreTokenizerIsApplied()
    {
        const string llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        var meta = GgufTokenizerMetadataReader.Read(SharedData.Require("models/gpt2-random/model.gguf")) with { Pre = "llama-bpe" };
        using var tok = GgufTokenizer.Create(meta);
        var reference = new ReferenceByteLevelBpe(SharedData.Require("models/gpt2-random/tokenizer.json"), llama3);
        var texts = TextSamples.Varied.Concat(["IT'S 1234567 apples\n\n\n  x", "(the) !the ?\r\n\r\nwhat"]);
        foreach (var text in texts)
        {
            Assert.Equal(reference.Encode(text), tok.Encode(text));
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        }
    }

    [Fact]
    public void PreTokenizerDecidesDigitGrouping()
    {
        // Merges that build "1234": GPT-2 keeps digit runs whole, Llama-3 cuts them into groups of three.
        string[] tokens = [.. Enumerable.Range(0, 256).Select(b => ByteLevel.ToChar((byte)b).ToString()), "12", "123", "1234"];
        string[] merges = ["1 2", "12 3", "123 4"];
        using var gpt2 = GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens, Merges: merges));
        using var llama3 = GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens, Merges: merges, Pre: "llama-bpe"));
        Assert.Equal([258], gpt2.Encode("1234"));
        Assert.Equal([257, '4'], llama3.Encode("1234"));
        Assert.Throws<NotSupportedException>(() => GgufTokenizer.Create(new GgufTokenizerMetadata("gpt2", tokens, Merges: merges, Pre: "falcon")));
    }

    [Fact]
    public void RealGgufMetadataMatchesOtherRoutes()
    {
        var gpt2Meta = GgufTokenizerMetadataReader.Read(SharedData.Require("models/gpt2-random/model.gguf"));
        using var gpt2 = GgufTokenizer.Create(gpt2Meta);
        using var gpt2Json = HfTokenizer.Load(SharedData.Require("models/gpt2-random/tokenizer.json"));
        Assert.Equal(400, gpt2.Bos); // llama.cpp records <|endoftext|> as BOS but does not add it
        Assert.False(gpt2.AddsBosByDefault);
        foreach (var text in TextSamples.Varied) Assert.Equal(gpt2Json.Encode(text), gpt2.Encode(text));

        var llamaMeta = GgufTokenizerMetadataReader.Read(SharedData.Require("models/stories260K/stories260K.gguf"));
        using var llama = GgufTokenizer.Create(llamaMeta);
        using var model = ScoredBpeTokenizer.LoadSentencePiece(SharedData.Require("models/stories260K/tok512.model"));
        Assert.True(llama.AddsBosByDefault);
        Assert.Equal([1, 403, 407, 261, 378, 432, 383, 286, 261, 376], llama.Encode("Once upon a time, there was a little"));
        foreach (var text in File.ReadLines(SharedData.Require("corpus/tinystories_sample.txt")).Take(100).Concat(TextSamples.Varied))
            Assert.Equal(model.Encode(text), llama.Encode(text));
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

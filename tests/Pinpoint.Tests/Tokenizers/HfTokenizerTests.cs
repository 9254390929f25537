using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

public class HfTokenizerTests
{
    private static string Gpt2Json => SharedData.Require("models/gpt2-random/tokenizer.json");

    [Fact]
    public void Gpt2RandomMatchesReferenceBpe()
    {
        using var tok = HfTokenizer.Load(Gpt2Json);
        var reference = new ReferenceByteLevelBpe(Gpt2Json);
        foreach (var text in TextSamples.Varied)
            Assert.Equal(reference.Encode(text), tok.Encode(text, addBos: false));
    }

    [Fact]
    public void Gpt2RandomKnownIds()
    {
        using var tok = HfTokenizer.Load(Gpt2Json);
        Assert.Equal(401, tok.VocabSize);
        Assert.Null(tok.Bos);
        Assert.False(tok.AddsBosByDefault);
        Assert.Equal(400, tok.Eos);
        // Merges "Ġ t" (256) and "h e" (257), then "Ġt he" (264); bytes are ids 0..255 in this file.
        Assert.Equal([264, 400, 10, 0xC3, 0xA9], tok.Encode(" the<|endoftext|>\né"));
        Assert.Equal(" the", tok.TokenText(264));
        Assert.Equal("\n", tok.TokenText(10));
        Assert.Equal("<0xC3>", tok.TokenText(0xC3));
        Assert.Equal("<|endoftext|>", tok.TokenText(400));
        Assert.True(tok.IsSpecial(400));
        Assert.True(tok.TryGetId(" the", out var id) && id == 264);
        Assert.True(tok.TryGetId("Ġthe", out id) && id == 264);
        Assert.False(tok.TryGetId("no such token", out _));
        Assert.Throws<InvalidOperationException>(() => tok.Encode("x", addBos: true));
    }

    [Fact]
    public void Gpt2RandomRoundTrips()
    {
        using var tok = HfTokenizer.Load(Gpt2Json);
        foreach (var text in TextSamples.Varied)
        {
            var ids = tok.Encode(text, addBos: false);
            Assert.Equal(text, tok.Decode(ids));
            Assert.Equal(text.Replace("<|endoftext|>", ""), tok.Decode(ids, skipSpecial: true));
        }
        // A character split across tokens decodes only when both halves are present.
        Assert.Equal("\uFFFD", tok.Decode([0xC3]));
    }

    [Fact]
    public void DecodeRejectsUnknownIds()
    {
        using var tok = HfTokenizer.Load(Gpt2Json);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([5, 401]));
        Assert.Contains("401", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.TokenText(-1));
    }

    [Fact]
    public void BadFilesNameThePath()
    {
        var missing = Path.Combine(Path.GetTempPath(), "pinpoint-no-such-dir", "tokenizer.json");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(missing)).Message);
        var corrupt = Path.Combine(Path.GetTempPath(), $"pinpoint-corrupt-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(corrupt, "{\"model\": ");
            Assert.Contains(corrupt, Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(corrupt)).Message);
            File.WriteAllText(corrupt, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}");
            Assert.Contains(corrupt, Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(corrupt)).Message);
        }
        finally
        {
            File.Delete(corrupt);
        }
    }

    [Fact]
    public void TemplateBosIsTheDefaultAndCanBeLeftOut()
    {
        // The same vocabulary with a Llama-style template that prepends a special token.
        var dir = Directory.CreateTempSubdirectory("pinpoint-tok-");
        try
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Gpt2Json))!;
            json["post_processor"] = System.Text.Json.Nodes.JsonNode.Parse("""
                {"type":"TemplateProcessing",
                 "single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                 "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
                 "special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[400],"tokens":["<|endoftext|>"]}}}
                """);
            var path = Path.Combine(dir.FullName, "tokenizer.json");
            File.WriteAllText(path, json.ToJsonString());
            using (var tok = HfTokenizer.Load(path))
            {
                Assert.Equal(400, tok.Bos);
                Assert.True(tok.AddsBosByDefault);
                Assert.Equal([400, 264], tok.Encode(" the"));
                Assert.Equal([264], tok.Encode(" the", addBos: false));
            }
            // tokenizer_config.json beside it overrides the template, as transformers does.
            File.WriteAllText(Path.Combine(dir.FullName, "tokenizer_config.json"), """{"add_bos_token": false, "bos_token": "<|endoftext|>"}""");
            using (var tok = HfTokenizer.Load(path))
            {
                Assert.False(tok.AddsBosByDefault);
                Assert.Equal([264], tok.Encode(" the"));
                Assert.Equal([400, 264], tok.Encode(" the", addBos: true));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

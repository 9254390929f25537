using System.Text.Json.Nodes;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

/// <summary>
/// The HF loader on a Llama-2-style tokenizer.json (SentencePiece BPE with byte fallback, BOS template,
/// Strip decoder). No such file is shared, so one is built from tok512's pieces the way transformers converts
/// SentencePiece models: merges are every split of a piece into two pieces, ordered by the merged piece's score.
/// </summary>
public class LlamaStyleTokenizerJsonTests
{
    [Fact]
    public void MatchesSentencePieceOnReferenceAndCorpus()
    {
        using var sp = ScoredBpeTokenizer.LoadSentencePiece(SharedData.Require("models/stories260K/tok512.model"));
        var dir = Directory.CreateTempSubdirectory("pinpoint-llama-json-");
        try
        {
            var path = Path.Combine(dir.FullName, "tokenizer.json");
            File.WriteAllText(path, BuildJson(sp).ToJsonString());
            using var hf = HfTokenizer.Load(path);
            Assert.Equal(1, hf.Bos);
            Assert.Equal(2, hf.Eos);
            Assert.True(hf.AddsBosByDefault);
            Assert.Equal([1, 403, 407, 261, 378, 432, 383, 286, 261, 376], hf.Encode("Once upon a time, there was a little"));

            var texts = File.ReadLines(SharedData.Require("corpus/tinystories_sample.txt")).Take(200)
                .Concat(TextSamples.Varied.Where(t => !t.Contains("<|") && t.Trim().Length > 0));
            foreach (var text in texts)
            {
                var ids = sp.Encode(text);
                Assert.Equal(ids, hf.Encode(text));
                Assert.Equal(text, hf.Decode(ids, skipSpecial: true));
                Assert.Equal(sp.Decode(ids), hf.Decode(ids));
            }
            for (var id = 0; id < sp.VocabSize; id++) Assert.Equal(sp.TokenText(id), hf.TokenText(id));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static JsonNode BuildJson(ITokenizer sp)
    {
        // Raw spellings ('▁' for space) are what TryGetId's fallback accepts; recover them from the surface forms.
        var pieces = Enumerable.Range(0, sp.VocabSize).Select(i => Raw(sp, i)).ToArray();
        var ids = pieces.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
        var merges = new List<(int Rank, int Left, int Right, string Text)>();
        for (var id = 0; id < pieces.Length; id++)
        {
            if (sp.IsSpecial(id) || pieces[id].StartsWith("<0x")) continue;
            for (var cut = 1; cut < pieces[id].Length; cut++)
            {
                var (l, r) = (pieces[id][..cut], pieces[id][cut..]);
                if (ids.TryGetValue(l, out var li) && ids.TryGetValue(r, out var ri) && !sp.IsSpecial(li) && !sp.IsSpecial(ri))
                    merges.Add((id, li, ri, $"{l} {r}"));
            }
        }
        var vocab = new JsonObject();
        for (var i = 0; i < pieces.Length; i++) vocab[pieces[i]] = i;
        var added = new JsonArray();
        foreach (var i in new[] { 0, 1, 2 })
            added.Add(new JsonObject { ["id"] = i, ["content"] = pieces[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = JsonNode.Parse("""{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}"""),
            ["pre_tokenizer"] = null,
            ["post_processor"] = JsonNode.Parse("""
                {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                 "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
                 "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}}
                """),
            ["decoder"] = JsonNode.Parse("""
                {"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},
                 {"type":"Strip","content":" ","start":1,"stop":0}]}
                """),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true, ["byte_fallback"] = true, ["vocab"] = vocab,
                ["merges"] = new JsonArray([.. merges.OrderBy(m => m.Rank).ThenBy(m => m.Left).ThenBy(m => m.Right).Select(m => (JsonNode)m.Text)]),
            },
        };
    }

    private static string Raw(ITokenizer sp, int id)
    {
        var text = sp.TokenText(id);
        if (sp.IsSpecial(id)) return text;
        // Byte pieces display as their character when it is valid UTF-8 on its own; give them their piece name back.
        return id is >= 3 and < 259 ? $"<0x{id - 3:X2}>" : text.Replace(' ', '\u2581');
    }
}

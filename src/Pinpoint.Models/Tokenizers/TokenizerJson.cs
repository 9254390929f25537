using System.Text.Encodings.Web;
using System.Text.Json;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// Any tokenizer Pinpoint reads as a Hugging Face tokenizer.json that gives the same ids: a tokenizer.json as it
/// was read, and a SentencePiece-style scored BPE (SentencePiece .model, llama2.c tokenizer.bin, GGUF "llama")
/// converted the way Hugging Face converts Llama's: a BPE with byte fallback whose merges are ranked by the score
/// of the piece they make.
/// </summary>
public static class TokenizerJson
{
    public static void Write(ITokenizer tokenizer, Stream output)
    {
        switch (tokenizer)
        {
            case HfTokenizer hf:
                using (var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                    hf.Json.WriteTo(w);
                break;
            case ScoredBpeTokenizer spm:
                WriteScoredBpe(spm, output);
                break;
            default:
                throw new NotSupportedException($"{tokenizer}: cannot be written as a tokenizer.json");
        }
    }

    private static void WriteScoredBpe(ScoredBpeTokenizer t, Stream output)
    {
        const string Space = "\u2581";
        var pieces = t.RawPieces;
        var kinds = t.Kinds;
        // HF's vocabulary spells spaces '▁' (llama2.c's tokenizer.bin spells them ' ', and BOS "\n<s>\n").
        var vocab = pieces.Select((p, i) => kinds[i] switch
        {
            PieceKind.Normal or PieceKind.UserDefined => p.Replace(" ", Space),
            PieceKind.Control or PieceKind.Unknown => p.Trim(),
            _ => p,
        }).ToArray();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocab.Length; i++)
            if (!ids.TryAdd(vocab[i], i))
                throw new NotSupportedException($"{t.Source}: pieces {ids[vocab[i]]} and {i} are both '{vocab[i]}'; a tokenizer.json vocabulary cannot hold both");
        var mergeable = Enumerable.Range(0, vocab.Length).Where(i => kinds[i] is PieceKind.Normal or PieceKind.UserDefined).ToHashSet();
        int? unknown = Enumerable.Range(0, vocab.Length).Cast<int?>().FirstOrDefault(i => kinds[i!.Value] == PieceKind.Unknown);

        using var w = HfBpeJsonWriter.Open(output, vocab, Enumerable.Range(0, vocab.Length)
            .Where(i => kinds[i] is PieceKind.Control or PieceKind.Unknown or PieceKind.UserDefined)
            .Select(i => (i, Special: kinds[i] != PieceKind.UserDefined, Normalized: kinds[i] == PieceKind.UserDefined)));

        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        if (t.AddsDummyPrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Prepend");
            w.WriteString("prepend", Space);
            w.WriteEndObject();
        }
        WriteReplace(w, " ", Space);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNull("pre_tokenizer");

        if (t.AddsBosByDefault && t.Bos is int bos) WriteBosTemplate(w, vocab[bos], bos);
        else w.WriteNull("post_processor");

        w.WriteStartObject("decoder");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        WriteReplace(w, Space, " ");
        w.WriteStartObject();
        w.WriteString("type", "ByteFallback");
        w.WriteEndObject();
        w.WriteStartObject();
        w.WriteString("type", "Fuse");
        w.WriteEndObject();
        if (t.AddsDummyPrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Strip");
            w.WriteString("content", " ");
            w.WriteNumber("start", 1);
            w.WriteNumber("stop", 0);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        // After '▁' replaced ' ', no piece holds a space, so merges can be written as "a b".
        HfBpeJsonWriter.WriteBpeModel(w, vocab, unknown is int unk ? vocab[unk] : null, byteFallback: true, Merges(vocab, ids, mergeable, t.Scores));
        w.WriteEndObject();
    }

    /// <summary>
    /// Every split of a mergeable piece into two mergeable pieces, highest-scoring result first (as the scored BPE
    /// merges), then by the result's id and the halves' ids, as Hugging Face's SentencePiece extractor orders them.
    /// </summary>
    private static IEnumerable<(string Left, string Right)> Merges(string[] vocab, Dictionary<string, int> ids, HashSet<int> mergeable, IReadOnlyList<float> scores)
    {
        var merges = new List<(int Piece, int Left, int Right)>();
        foreach (int piece in mergeable)
        {
            var text = vocab[piece];
            for (int k = 1; k < text.Length; k++)
            {
                if (char.IsLowSurrogate(text[k])) continue;
                if (ids.TryGetValue(text[..k], out int left) && mergeable.Contains(left) && ids.TryGetValue(text[k..], out int right) && mergeable.Contains(right))
                    merges.Add((piece, left, right));
            }
        }
        return merges.OrderByDescending(m => scores[m.Piece]).ThenBy(m => m.Piece).ThenBy(m => m.Left).ThenBy(m => m.Right)
            .Select(m => (vocab[m.Left], vocab[m.Right]));
    }

    private static void WriteReplace(Utf8JsonWriter w, string from, string to)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", from);
        w.WriteEndObject();
        w.WriteString("content", to);
        w.WriteEndObject();
    }

    /// <summary>A post-processor that prepends BOS, so Hugging Face adds it as the model was trained.</summary>
    private static void WriteBosTemplate(Utf8JsonWriter w, string bosText, int bosId)
    {
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        foreach (var (name, sequences) in new[] { ("single", new[] { "A" }), ("pair", new[] { "A", "B" }) })
        {
            w.WriteStartArray(name);
            foreach (var sequence in sequences)
            {
                w.WriteStartObject();
                w.WriteStartObject("SpecialToken");
                w.WriteString("id", bosText);
                w.WriteNumber("type_id", 0);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject();
                w.WriteStartObject("Sequence");
                w.WriteString("id", sequence);
                w.WriteNumber("type_id", 0);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteStartObject("special_tokens");
        w.WriteStartObject(bosText);
        w.WriteString("id", bosText);
        w.WriteStartArray("ids");
        w.WriteNumberValue(bosId);
        w.WriteEndArray();
        w.WriteStartArray("tokens");
        w.WriteStringValue(bosText);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

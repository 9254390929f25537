using System.Text.Encodings.Web;
using System.Text.Json;

namespace Pinpoint.Models.Tokenizers;

/// <summary>Writes a Hugging Face tokenizer.json for a GPT-2-style byte-level BPE.</summary>
internal static class HfBpeJsonWriter
{
    /// <param name="tokens">Every id's spelling: byte-level strings for ordinary tokens, plain text for added tokens.</param>
    /// <param name="merges">Merge rules in priority order, as pairs of byte-level strings.</param>
    /// <param name="added">Ids of added tokens (matched whole in raw text) and whether each is special.</param>
    /// <param name="splitPattern">Pre-tokenizer regex replacing GPT-2's (e.g. Llama-3's), or null for GPT-2's.</param>
    public static void Write(Stream output, IReadOnlyList<string> tokens, IEnumerable<(string Left, string Right)> merges,
        IEnumerable<(int Id, bool Special)> added, string? splitPattern = null)
    {
        using var w = Open(output, tokens, added.Select(a => (a.Id, a.Special, Normalized: false)));
        w.WriteNull("normalizer");
        if (splitPattern is null)
        {
            WriteByteLevel(w, "pre_tokenizer", trimOffsets: true, useRegex: true);
        }
        else
        {
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", splitPattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
            WriteByteLevel(w, null, trimOffsets: true, useRegex: false);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        WriteByteLevel(w, "post_processor", trimOffsets: false, useRegex: true);
        WriteByteLevel(w, "decoder", trimOffsets: true, useRegex: true);
        // Byte-level spellings never contain a space, so merges can be written as "a b".
        WriteBpeModel(w, tokens, unknownToken: null, byteFallback: false, merges);
        w.WriteEndObject();
    }

    /// <summary>A tokenizer.json writer past its opening: version, no truncation or padding, and the added tokens.</summary>
    public static Utf8JsonWriter Open(Stream output, IReadOnlyList<string> vocab, IEnumerable<(int Id, bool Special, bool Normalized)> added)
    {
        var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var (id, special, normalized) in added)
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", vocab[id]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", normalized);
            w.WriteBoolean("special", special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        return w;
    }

    /// <summary>
    /// The "model" object of a BPE tokenizer.json. Merges are "a b" strings, the form every tokenizers version reads;
    /// callers guarantee no piece holds a space. SentencePiece-style vocabularies set <paramref name="byteFallback"/>
    /// (unknown bytes as &lt;0xNN&gt; pieces, runs of unknowns fused).
    /// </summary>
    public static void WriteBpeModel(Utf8JsonWriter w, IReadOnlyList<string> vocab, string? unknownToken, bool byteFallback,
        IEnumerable<(string Left, string Right)> merges)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (unknownToken is null) w.WriteNull("unk_token");
        else w.WriteString("unk_token", unknownToken);
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", byteFallback);
        w.WriteBoolean("byte_fallback", byteFallback);
        w.WriteStartObject("vocab");
        for (var id = 0; id < vocab.Count; id++) w.WriteNumber(vocab[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges) w.WriteStringValue($"{left} {right}");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string? name, bool trimOffsets, bool useRegex)
    {
        if (name is null) w.WriteStartObject();
        else w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }
}

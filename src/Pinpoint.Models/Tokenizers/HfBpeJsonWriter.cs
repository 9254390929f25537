using System.Text.Encodings.Web;
using System.Text.Json;

namespace Pinpoint.Models.Tokenizers;

/// <summary>Writes a Hugging Face tokenizer.json for a GPT-2-style byte-level BPE.</summary>
internal static class HfBpeJsonWriter
{
    /// <param name="tokens">Every id's spelling: byte-level strings for ordinary tokens, plain text for added tokens.</param>
    /// <param name="merges">Merge rules in priority order, as pairs of byte-level strings.</param>
    /// <param name="added">Ids of added tokens (matched whole in raw text) and whether each is special.</param>
    public static void Write(Stream output, IReadOnlyList<string> tokens, IEnumerable<(string Left, string Right)> merges,
        IEnumerable<(int Id, bool Special)> added)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var (id, special) in added)
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", tokens[id]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("normalizer");
        WriteByteLevel(w, "pre_tokenizer", trimOffsets: true);
        WriteByteLevel(w, "post_processor", trimOffsets: false);
        WriteByteLevel(w, "decoder", trimOffsets: true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteStartObject("vocab");
        for (var id = 0; id < tokens.Count; id++) w.WriteNumber(tokens[id], id);
        w.WriteEndObject();
        // "a b" strings: the merges format every tokenizers version reads; byte-level spellings never contain a space.
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges) w.WriteStringValue($"{left} {right}");
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string name, bool trimOffsets)
    {
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }
}

using Pinpoint.Models.Formats;

namespace Pinpoint.Models.Tokenizers;

/// <summary>The tokenizer.ggml.* metadata of a GGUF file, as plain values.</summary>
/// <param name="Model">tokenizer.ggml.model: "llama" (SentencePiece pieces with scores) or "gpt2" (byte-level BPE with merges).</param>
/// <param name="Tokens">tokenizer.ggml.tokens.</param>
/// <param name="Scores">tokenizer.ggml.scores (required for "llama").</param>
/// <param name="TokenTypes">tokenizer.ggml.token_type (<see cref="PieceKind"/> numbering), optional.</param>
/// <param name="Merges">tokenizer.ggml.merges, "left right" (required for "gpt2").</param>
/// <param name="BosId">tokenizer.ggml.bos_token_id; negative (GGUF writes uint32 -1) means none.</param>
/// <param name="EosId">tokenizer.ggml.eos_token_id; negative means none.</param>
/// <param name="AddBos">tokenizer.ggml.add_bos_token; when absent, llama.cpp's default for the model (true for "llama", false for "gpt2").</param>
/// <param name="AddSpacePrefix">tokenizer.ggml.add_space_prefix ("llama"; default true).</param>
/// <param name="Pre">tokenizer.ggml.pre, the pre-tokenizer of a "gpt2" model: GPT-2's ("gpt-2", "default" or absent), "llama-bpe" (Llama-3) or "qwen2".</param>
public sealed record GgufTokenizerMetadata(
    string Model,
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float>? Scores = null,
    IReadOnlyList<int>? TokenTypes = null,
    IReadOnlyList<string>? Merges = null,
    int? BosId = null,
    int? EosId = null,
    bool? AddBos = null,
    bool AddSpacePrefix = true,
    string? Pre = null);

/// <summary>Builds the tokenizer a GGUF file describes.</summary>
public static class GgufTokenizer
{
    /// <summary>The tokenizer of the GGUF file at <paramref name="path"/>.</summary>
    public static ITokenizer Load(string path)
    {
        using var file = TensorFile.Open(path);
        return file.Format == TensorFileFormat.Gguf ? FromFile(file) : throw new ModelFormatException(path, "not a GGUF file");
    }

    /// <summary>The tokenizer an open GGUF file's metadata describes.</summary>
    public static ITokenizer FromFile(TensorFile file) => Create(Metadata(file));

    /// <summary>The tokenizer.ggml.* metadata of an open GGUF file.</summary>
    public static GgufTokenizerMetadata Metadata(TensorFile f)
    {
        string? Str(string k) => f.HasMetadata(k) ? f.GetString(k) : null;
        int? Int(string k) => f.HasMetadata(k) ? (int)f.GetInt64(k) : null;
        return new GgufTokenizerMetadata(
            Str("tokenizer.ggml.model") ?? throw new ModelFormatException(f.Path, "no tokenizer.ggml.model in the metadata; give a separate tokenizer"),
            f.GetStringArray("tokenizer.ggml.tokens"),
            f.HasMetadata("tokenizer.ggml.scores") ? f.GetFloatArray("tokenizer.ggml.scores") : null,
            f.HasMetadata("tokenizer.ggml.token_type") ? f.GetInt32Array("tokenizer.ggml.token_type") : null,
            f.HasMetadata("tokenizer.ggml.merges") ? f.GetStringArray("tokenizer.ggml.merges") : null,
            Int("tokenizer.ggml.bos_token_id"),
            Int("tokenizer.ggml.eos_token_id"),
            f.HasMetadata("tokenizer.ggml.add_bos_token") ? f.GetBool("tokenizer.ggml.add_bos_token") : null,
            !f.HasMetadata("tokenizer.ggml.add_space_prefix") || f.GetBool("tokenizer.ggml.add_space_prefix"),
            Str("tokenizer.ggml.pre"));
    }

    public static ITokenizer Create(GgufTokenizerMetadata m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.Tokens.Count == 0) throw new ArgumentException("GGUF tokenizer.ggml.tokens is empty", nameof(m));
        if (m.TokenTypes is not null && m.TokenTypes.Count != m.Tokens.Count)
            throw new ArgumentException($"GGUF tokenizer.ggml.token_type has {m.TokenTypes.Count} entries for {m.Tokens.Count} tokens", nameof(m));
        return m.Model switch
        {
            "llama" => CreateLlama(m),
            "gpt2" => CreateGpt2(m),
            _ => throw new NotSupportedException($"GGUF tokenizer.ggml.model '{m.Model}' is not supported (expected 'llama' or 'gpt2')"),
        };
    }

    private static int? Present(int? id) => id >= 0 ? id : null;

    private static ScoredBpeTokenizer CreateLlama(GgufTokenizerMetadata m)
    {
        var scores = m.Scores ?? throw new ArgumentException("GGUF tokenizer.ggml.scores is required for a 'llama' tokenizer", nameof(m));
        var kinds = m.TokenTypes?.Select(t => (PieceKind)t).ToArray();
        return new ScoredBpeTokenizer("GGUF llama tokenizer", m.Tokens, scores, kinds, Present(m.BosId), Present(m.EosId), m.AddBos ?? true, m.AddSpacePrefix);
    }

    private static HfTokenizer CreateGpt2(GgufTokenizerMetadata m)
    {
        // Regexes as in the models' own tokenizer.json files; GPT-2's is the ByteLevel pre-tokenizer's built-in one.
        var splitPattern = m.Pre switch
        {
            null or "default" or "gpt-2" or "gpt2" => null,
            "llama-bpe" or "llama3" => @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            "qwen2" => @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            _ => throw new NotSupportedException($"GGUF tokenizer.ggml.pre '{m.Pre}' is not supported (gpt-2, llama-bpe, qwen2)"),
        };
        var merges = m.Merges ?? throw new ArgumentException("GGUF tokenizer.ggml.merges is required for a 'gpt2' tokenizer", nameof(m));
        var pairs = merges.Select((rule, i) => rule.Split(' ') is [var l, var r]
            ? (l, r)
            : throw new ArgumentException($"GGUF merge {i} '{rule}' is not 'left right'", nameof(m)));
        // Control and user-defined tokens are matched whole in raw text, as added tokens are in HF.
        var added = Enumerable.Range(0, m.Tokens.Count)
            .Where(i => m.TokenTypes?[i] is (int)PieceKind.Control or (int)PieceKind.UserDefined)
            .Select(i => (i, m.TokenTypes![i] == (int)PieceKind.Control));

        // HF's Rust tokenizer loads from a file, so the equivalent tokenizer.json goes through a temporary one.
        var path = Path.Combine(Path.GetTempPath(), $"pinpoint-gguf-{Guid.NewGuid():N}.tokenizer.json");
        try
        {
            var stream = new MemoryStream();
            HfBpeJsonWriter.Write(stream, m.Tokens, pairs, added, splitPattern);
            var json = stream.ToArray();
            File.WriteAllBytes(path, json);
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            return HfTokenizer.Create(path, "GGUF gpt2 tokenizer", doc.RootElement, config: null,
                new HfTokenizer.SpecialOverrides(Present(m.BosId), Present(m.EosId), m.AddBos ?? false));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

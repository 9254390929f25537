using System.Buffers.Binary;
using System.Text.Json;

namespace Pinpoint.Models.Formats;

/// <summary>What a model or tokenizer file holds, judged by its content (see <see cref="FileKinds.Detect(string)"/>).</summary>
public enum FileKind
{
    /// <summary>None of the kinds below.</summary>
    Unknown,
    Gguf,
    Safetensors,
    /// <summary>model.safetensors.index.json: a JSON object with "weight_map".</summary>
    SafetensorsIndex,
    /// <summary>A llama2.c checkpoint: the "ak42" magic, or a legacy 7-int header with consistent sizes.</summary>
    Llama2cCheckpoint,
    /// <summary>A Hugging Face tokenizer.json: a JSON object with a "model" object.</summary>
    HfTokenizerJson,
    /// <summary>A SentencePiece model protobuf (tokenizer.model).</summary>
    SentencePieceModel,
    /// <summary>A llama2.c tokenizer.bin: max token length, then (score, length, bytes) records.</summary>
    Llama2cTokenizer,
    /// <summary>JSON of another shape (or malformed JSON).</summary>
    OtherJson,
}

/// <summary>
/// Recognises files by content, so a renamed file still opens and a mislabelled one is named for what it is;
/// file extensions are only a hint for which reader reports a damaged file's problem.
/// </summary>
public static class FileKinds
{
    private const int HeadBytes = 4096;

    /// <summary>The kind of the file at <paramref name="path"/>; <see cref="FileKind.Unknown"/> when nothing fits.</summary>
    /// <exception cref="ModelFormatException">the file cannot be read.</exception>
    public static FileKind Detect(string path)
    {
        byte[] head;
        long length;
        try
        {
            using var stream = File.OpenRead(path);
            length = stream.Length;
            head = new byte[(int)Math.Min(HeadBytes, length)];
            stream.ReadExactly(head);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
        return Detect(head, length, () => File.ReadAllBytes(path));
    }

    /// <summary>The kind of a file given its first bytes, its length and (for JSON only) a way to read all of it.</summary>
    public static FileKind Detect(ReadOnlySpan<byte> head, long length, Func<byte[]> readAll)
    {
        if (head.StartsWith("GGUF"u8)) return FileKind.Gguf;
        if (IsSafetensors(head, length)) return FileKind.Safetensors;
        if (FirstNonSpace(head) == (byte)'{') return JsonKind(readAll());
        if (head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == Llama2cReader.Magic) return FileKind.Llama2cCheckpoint;
        if (IsLlama2cHeader(head)) return FileKind.Llama2cCheckpoint;
        if (IsSentencePiece(head)) return FileKind.SentencePieceModel;
        if (IsLlama2cTokenizer(head, length)) return FileKind.Llama2cTokenizer;
        return FileKind.Unknown;
    }

    /// <summary>How a kind is named in messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Gguf => "a GGUF file",
        FileKind.Safetensors => "a safetensors file",
        FileKind.SafetensorsIndex => "a safetensors index",
        FileKind.Llama2cCheckpoint => "a llama2.c checkpoint",
        FileKind.HfTokenizerJson => "a Hugging Face tokenizer.json",
        FileKind.SentencePieceModel => "a SentencePiece model",
        FileKind.Llama2cTokenizer => "a llama2.c tokenizer",
        FileKind.OtherJson => "a JSON file of another kind",
        _ => "of no known kind",
    };

    /// <summary>An 8-byte little-endian header length, then a JSON object that fits in the file.</summary>
    private static bool IsSafetensors(ReadOnlySpan<byte> head, long length) =>
        head.Length >= 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && n <= (ulong)(length - 8);

    private static byte? FirstNonSpace(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("\uFEFF"u8)) head = head[3..];
        foreach (var b in head)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return b;
        return null;
    }

    private static FileKind JsonKind(byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = doc.RootElement;
            if (root.TryGetProperty("weight_map", out _)) return FileKind.SafetensorsIndex;
            if (root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object) return FileKind.HfTokenizerJson;
        }
        catch (JsonException)
        {
        }
        return FileKind.OtherJson;
    }

    /// <summary>llama2.c's legacy header: dim, hidden_dim, n_layers, n_heads, n_kv_heads, ±vocab_size, seq_len, all consistent.</summary>
    private static bool IsLlama2cHeader(ReadOnlySpan<byte> head)
    {
        if (head.Length < 28) return false;
        Span<int> p = stackalloc int[7];
        for (int i = 0; i < 7; i++) p[i] = BinaryPrimitives.ReadInt32LittleEndian(head[(4 * i)..]);
        int dim = p[0], hidden = p[1], layers = p[2], heads = p[3], kvHeads = p[4], seqLen = p[6];
        long vocab = Math.Abs((long)p[5]);
        return dim is > 0 and <= 1 << 16 && hidden is > 0 and <= 1 << 18 && layers is > 0 and <= 1024 && heads is > 0 and <= 1024
            && kvHeads > 0 && kvHeads <= heads && dim % heads == 0 && heads % kvHeads == 0 && vocab is > 0 and <= 1 << 22 && seqLen is > 0 and <= 1 << 24;
    }

    /// <summary>A ModelProto starts with field 1 (a SentencePiece), whose own first field is the piece string.</summary>
    private static bool IsSentencePiece(ReadOnlySpan<byte> head)
    {
        if (head.Length < 4 || head[0] != 0x0A) return false;
        int at = 1;
        if (!TryVarint(head, ref at, out var pieceLength) || pieceLength < 2 || at >= head.Length || head[at] != 0x0A) return false;
        at++;
        return TryVarint(head, ref at, out var textLength) && textLength < pieceLength;
    }

    private static bool TryVarint(ReadOnlySpan<byte> bytes, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && at < bytes.Length; shift += 7)
        {
            byte b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }

    /// <summary>A plausible max token length, then the first few (finite score, length ≤ max, bytes) records fit.</summary>
    private static bool IsLlama2cTokenizer(ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < 12) return false;
        int maxLength = BinaryPrimitives.ReadInt32LittleEndian(head);
        if (maxLength is <= 0 or > 1024) return false;
        int at = 4, records = 0;
        while (records < 16 && at + 8 <= head.Length)
        {
            float score = BinaryPrimitives.ReadSingleLittleEndian(head[at..]);
            int tokenLength = BinaryPrimitives.ReadInt32LittleEndian(head[(at + 4)..]);
            if (!float.IsFinite(score) || tokenLength < 0 || tokenLength > maxLength) return false;
            at += 8 + tokenLength;
            records++;
        }
        return records > 0 && at <= length;
    }
}

using System.Runtime.InteropServices;
using System.Text;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// Decoding, display and lookup shared by all tokenizers: every id maps to a byte string, so decoding is
/// concatenation followed by one UTF-8 decode (which lets multi-byte characters span tokens).
/// </summary>
public abstract class TokenizerBase : ITokenizer
{
    private readonly TokenPiece[] pieces;
    private readonly bool stripsDummyPrefix;
    private readonly Lazy<Dictionary<string, int>> idsByText;

    private protected TokenizerBase(string source, TokenPiece[] pieces, int? bos, int? eos, bool addsBosByDefault, bool stripsDummyPrefix)
    {
        Source = source;
        this.pieces = pieces;
        this.stripsDummyPrefix = stripsDummyPrefix;
        CheckId(bos, nameof(bos));
        CheckId(eos, nameof(eos));
        Bos = bos;
        Eos = eos;
        AddsBosByDefault = addsBosByDefault && bos is not null;
        idsByText = new Lazy<Dictionary<string, int>>(BuildLookup);
    }

    /// <summary>Where the tokenizer came from (a file path or a description), used in messages.</summary>
    public string Source { get; }

    public int VocabSize => pieces.Length;
    public int? Bos { get; }
    public int? Eos { get; }
    public bool AddsBosByDefault { get; }

    public abstract int[] Encode(string text, bool addBos);

    public int[] Encode(string text) => Encode(text, AddsBosByDefault);

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        var atStart = true; // where a SentencePiece dummy-prefix space is dropped: text start or right after BOS
        foreach (var id in ids)
        {
            var piece = Piece(id, nameof(ids));
            if (piece.Special)
            {
                if (skipSpecial) continue;
                bytes.AddRange(piece.Bytes);
                atStart = id == Bos;
                continue;
            }
            var span = piece.Bytes.AsSpan();
            if (atStart && stripsDummyPrefix && span.Length > 0 && span[0] == (byte)' ') span = span[1..];
            bytes.AddRange(span);
            atStart = false;
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    public string TokenText(int id) => Display(Piece(id, nameof(id)).Bytes);

    public bool IsSpecial(int id) => Piece(id, nameof(id)).Special;

    public bool TryGetId(string tokenText, out int id)
    {
        ArgumentNullException.ThrowIfNull(tokenText);
        var map = idsByText.Value;
        // llama2.c files spell spaces as ' ', GGUF and .model files as '▁': accept either.
        return map.TryGetValue(tokenText, out id)
               || (tokenText.Contains(SentencePieceSpace) && map.TryGetValue(tokenText.Replace(SentencePieceSpace, ' '), out id));
    }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    public override string ToString() => $"{GetType().Name}({Source}, vocab {VocabSize})";

    /// <summary>The id prepended for addBos, with a clear error when there is none.</summary>
    private protected int RequireBos() =>
        Bos ?? throw new InvalidOperationException($"tokenizer {Source} has no BOS token; encode with addBos: false");

    private TokenPiece Piece(int id, string argument) =>
        (uint)id < (uint)pieces.Length
            ? pieces[id]
            : throw new ArgumentOutOfRangeException(argument, id, $"token id {id} is outside the vocabulary [0, {pieces.Length}) of {Source}");

    private void CheckId(int? id, string argument)
    {
        if (id is { } v && (uint)v >= (uint)pieces.Length)
            throw new ArgumentOutOfRangeException(argument, v, $"special token id {v} is outside the vocabulary [0, {pieces.Length}) of {Source}");
    }

    private Dictionary<string, int> BuildLookup()
    {
        var map = new Dictionary<string, int>(pieces.Length * 2, StringComparer.Ordinal);
        // Surface forms first so that " the" finds the ordinary token; lowest id wins on duplicates.
        for (var i = 0; i < pieces.Length; i++) map.TryAdd(Display(pieces[i].Bytes), i);
        for (var i = 0; i < pieces.Length; i++) map.TryAdd(pieces[i].RawText, i);
        return map;
    }

    /// <summary>UTF-8 text with each byte that is not part of a complete character shown as &lt;0xNN&gt;.</summary>
    internal static string Display(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes, out var rune, out var consumed) == System.Buffers.OperationStatus.Done)
            {
                sb.Append(rune.ToString());
                bytes = bytes[consumed..];
            }
            else
            {
                sb.Append($"<0x{bytes[0]:X2}>");
                bytes = bytes[1..];
            }
        }
        return sb.ToString();
    }

    /// <summary>The byte of a SentencePiece byte-fallback piece "&lt;0xNN&gt;", or -1.</summary>
    internal static int ParseBytePiece(string piece) =>
        piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
        && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var b)
            ? b
            : -1;

    /// <summary>Piece for a SentencePiece-style vocabulary entry: '▁' is a space, byte pieces are their byte.</summary>
    internal static TokenPiece SentencePiecePiece(string raw, bool special, bool byteFallback)
    {
        if (special) return new TokenPiece(Encoding.UTF8.GetBytes(raw.Trim()), raw, true);
        var b = byteFallback ? ParseBytePiece(raw) : -1;
        return b >= 0
            ? new TokenPiece([(byte)b], raw, false)
            : new TokenPiece(Encoding.UTF8.GetBytes(raw.Replace(SentencePieceSpace, ' ')), raw, false);
    }

    /// <summary>U+2581, SentencePiece's visible space.</summary>
    internal const char SentencePieceSpace = '\u2581';
}

using System.Text;

namespace Pinpoint.Models.Tokenizers;

/// <summary>Role of a vocabulary entry, numbered as in GGUF's tokenizer.ggml.token_type.</summary>
public enum PieceKind
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// SentencePiece-style BPE over pieces with scores, as in llama2.c's run.c and llama.cpp's SPM tokenizer:
/// prepend a space, split into characters (unknown characters fall back to byte pieces), then repeatedly merge
/// the adjacent pair whose concatenation is the highest-scoring piece (leftmost on ties).
/// </summary>
public sealed class ScoredBpeTokenizer : TokenizerBase
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup;
    private readonly float[] scores;
    private readonly int[] byteIds;
    private readonly int unknownId;
    private readonly bool addDummyPrefix;

    /// <param name="source">Name used in messages.</param>
    /// <param name="pieces">Vocabulary as written in the model ('▁' or ' ' for spaces, "&lt;0xNN&gt;" byte pieces).</param>
    /// <param name="scores">Merge priority of each piece.</param>
    /// <param name="kinds">Role of each piece; null infers llama2.c's layout (0 &lt;unk&gt;, 1 BOS, 2 EOS, "&lt;0xNN&gt;" bytes).</param>
    /// <param name="addDummyPrefix">Whether a space is prepended to the text (SentencePiece's add_dummy_prefix).</param>
    public ScoredBpeTokenizer(string source, IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<PieceKind>? kinds,
        int? bos, int? eos, bool addsBosByDefault, bool addDummyPrefix = true)
        : base(source, BuildPieces(source, pieces, scores, kinds ??= InferKinds(pieces)), bos, eos, addsBosByDefault, stripsDummyPrefix: addDummyPrefix)
    {
        this.addDummyPrefix = addDummyPrefix;
        this.scores = [.. scores];
        RawPieces = [.. pieces];
        Kinds = [.. kinds];
        byteIds = new int[256];
        Array.Fill(byteIds, -1);
        var idsOfPiece = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        unknownId = -1;
        for (var id = 0; id < pieces.Count; id++)
        {
            switch (kinds[id])
            {
                case PieceKind.Normal or PieceKind.UserDefined:
                    idsOfPiece.TryAdd(pieces[id].Replace(SentencePieceSpace, ' '), id);
                    break;
                case PieceKind.Byte when ParseBytePiece(pieces[id]) is var b and >= 0:
                    byteIds[b] = id;
                    break;
                case PieceKind.Unknown when unknownId < 0:
                    unknownId = id;
                    break;
            }
        }
        lookup = idsOfPiece.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The vocabulary as written in the model, each piece's role and merge score (for <see cref="TokenizerJson"/>).</summary>
    internal IReadOnlyList<string> RawPieces { get; }
    internal IReadOnlyList<PieceKind> Kinds { get; }
    internal IReadOnlyList<float> Scores => scores;
    internal bool AddsDummyPrefix => addDummyPrefix;

    /// <summary>Reads a llama2.c <c>tokenizer.bin</c>: int32 max piece length, then per piece float32 score, int32 byte length, UTF-8 bytes.</summary>
    public static ScoredBpeTokenizer LoadLlama2c(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"llama2.c tokenizer not found: {path}", path);
        var data = File.ReadAllBytes(path);
        var pieces = new List<string>();
        var scores = new List<float>();
        if (data.Length < 4) throw new InvalidDataException($"{path}: too short for a llama2.c tokenizer ({data.Length} bytes)");
        var maxLength = BitConverter.ToInt32(data, 0);
        var pos = 4;
        while (pos < data.Length)
        {
            if (data.Length - pos < 8) throw new InvalidDataException($"{path}: truncated entry for token {pieces.Count} at byte {pos}");
            var score = BitConverter.ToSingle(data, pos);
            var length = BitConverter.ToInt32(data, pos + 4);
            pos += 8;
            if (length < 0 || length > maxLength || length > data.Length - pos)
                throw new InvalidDataException($"{path}: token {pieces.Count} has invalid length {length} at byte {pos - 4} (max {maxLength})");
            pieces.Add(Encoding.UTF8.GetString(data, pos, length));
            scores.Add(score);
            pos += length;
        }
        if (pieces.Count < 3) throw new InvalidDataException($"{path}: only {pieces.Count} tokens; llama2.c needs <unk>, <s>, </s> first");
        return new ScoredBpeTokenizer(path, pieces, scores, kinds: null, bos: 1, eos: 2, addsBosByDefault: true);
    }

    /// <summary>
    /// Reads a SentencePiece <c>.model</c> of BPE type with an identity normalizer (Llama-2, Mistral, TinyLlama, llama2.c).
    /// Like llama.cpp, it ignores remove_extra_whitespaces: runs of spaces are kept.
    /// </summary>
    public static ScoredBpeTokenizer LoadSentencePiece(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"SentencePiece model not found: {path}", path);
        SentencePieceModelProto model;
        try
        {
            model = SentencePieceModelProto.Parse(File.ReadAllBytes(path));
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: not a SentencePiece model ({e.Message})", e);
        }
        if (model.Pieces.Count == 0) throw new InvalidDataException($"{path}: not a SentencePiece model (no pieces)");
        if (model.ModelType != SentencePieceModelProto.Bpe)
            throw new NotSupportedException($"{path}: SentencePiece model type {model.ModelType} is not supported (only BPE, type 2)");
        if (model.CharsMapLength > 0)
            throw new NotSupportedException($"{path}: SentencePiece normalizer '{model.NormalizerName}' is not supported (only identity)");
        int? Id(int id) => id >= 0 && id < model.Pieces.Count ? id : null;
        return new ScoredBpeTokenizer(path, model.Pieces, model.Scores, model.Kinds, Id(model.BosId), Id(model.EosId),
            addsBosByDefault: true, model.AddDummyPrefix);
    }

    public override int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length + 1);
        if (addBos) ids.Add(RequireBos());
        if (text.Length == 0) return [.. ids];

        var s = addDummyPrefix ? " " + text : text;
        var symbols = Split(s);
        Merge(s, symbols);
        for (var i = 0; i >= 0; i = symbols[i].Next) ids.Add(symbols[i].Id);
        return [.. ids];
    }

    /// <summary>A run of text (Start, Length in chars) or a byte-fallback piece (Length 0, never merged), in a doubly linked list.</summary>
    private struct Symbol
    {
        public int Id, Start, Length, Prev, Next;
    }

    private List<Symbol> Split(string s)
    {
        var symbols = new List<Symbol>(s.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < s.Length;)
        {
            var width = char.IsSurrogatePair(s, i) ? 2 : 1;
            if (lookup.TryGetValue(s.AsSpan(i, width), out var id))
            {
                Add(symbols, id, i, width);
            }
            else
            {
                var n = Encoding.UTF8.GetBytes(s.AsSpan(i, width), utf8);
                foreach (var b in utf8[..n]) Add(symbols, byteIds[b] >= 0 ? byteIds[b] : UnknownOrThrow(b), i, 0);
            }
            i += width;
        }
        return symbols;
    }

    private int UnknownOrThrow(byte b) =>
        unknownId >= 0 ? unknownId : throw new InvalidOperationException($"tokenizer {Source} has neither a byte piece for 0x{b:X2} nor an <unk> piece");

    private static void Add(List<Symbol> symbols, int id, int start, int length)
    {
        var index = symbols.Count;
        if (index > 0) symbols[index - 1] = symbols[index - 1] with { Next = index };
        symbols.Add(new Symbol { Id = id, Start = start, Length = length, Prev = index - 1, Next = -1 });
    }

    /// <summary>Candidate merge of symbol Left with its right neighbour; stale once either side changed length.</summary>
    private readonly record struct Candidate(int Left, int Right, int Length, int Id);

    private sealed class Priority : IComparer<(float Score, int Start)>
    {
        public static readonly Priority Instance = new();

        // Highest score first; among equal scores the leftmost pair, as run.c's scan picks it.
        public int Compare((float Score, int Start) x, (float Score, int Start) y) =>
            x.Score != y.Score ? y.Score.CompareTo(x.Score) : x.Start.CompareTo(y.Start);
    }

    private void Merge(string s, List<Symbol> symbols)
    {
        var queue = new PriorityQueue<Candidate, (float, int)>(Priority.Instance);
        for (var i = 0; i + 1 < symbols.Count; i++) Propose(s, symbols, i, queue);
        while (queue.TryDequeue(out var c, out _))
        {
            var left = symbols[c.Left];
            var right = symbols[c.Right];
            if (left.Length == 0 || right.Length == 0 || left.Next != c.Right || left.Length + right.Length != c.Length) continue;
            symbols[c.Left] = left with { Id = c.Id, Length = c.Length, Next = right.Next };
            symbols[c.Right] = right with { Length = 0, Id = -1 };
            if (right.Next >= 0) symbols[right.Next] = symbols[right.Next] with { Prev = c.Left };
            if (left.Prev >= 0) Propose(s, symbols, left.Prev, queue);
            Propose(s, symbols, c.Left, queue);
        }
    }

    private void Propose(string s, List<Symbol> symbols, int leftIndex, PriorityQueue<Candidate, (float, int)> queue)
    {
        var left = symbols[leftIndex];
        if (left.Next < 0 || left.Length == 0) return;
        var right = symbols[left.Next];
        if (right.Length == 0) return;
        if (lookup.TryGetValue(s.AsSpan(left.Start, left.Length + right.Length), out var id))
            queue.Enqueue(new Candidate(leftIndex, left.Next, left.Length + right.Length, id), (scores[id], left.Start));
    }

    private static TokenPiece[] BuildPieces(string source, IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<PieceKind> kinds)
    {
        if (scores.Count != pieces.Count)
            throw new ArgumentException($"{source}: {scores.Count} scores for {pieces.Count} pieces", nameof(scores));
        if (kinds.Count != pieces.Count)
            throw new ArgumentException($"{source}: {kinds.Count} token types for {pieces.Count} pieces", nameof(kinds));
        var result = new TokenPiece[pieces.Count];
        for (var i = 0; i < pieces.Count; i++)
        {
            var kind = kinds[i];
            result[i] = SentencePiecePiece(pieces[i], kind is PieceKind.Control or PieceKind.Unknown or PieceKind.Unused, kind == PieceKind.Byte);
        }
        return result;
    }

    private static PieceKind[] InferKinds(IReadOnlyList<string> pieces) =>
        [.. pieces.Select((p, i) => i switch
        {
            0 => PieceKind.Unknown,
            1 or 2 => PieceKind.Control,
            _ => ParseBytePiece(p) >= 0 ? PieceKind.Byte : PieceKind.Normal,
        })];
}

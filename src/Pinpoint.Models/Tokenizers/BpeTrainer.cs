using System.Runtime.InteropServices;
using System.Text;

namespace Pinpoint.Models.Tokenizers;

/// <summary>A trained byte-level BPE: ids 0-255 are the bytes, then one id per new merge result, then the special tokens.</summary>
public sealed class TrainedBpe
{
    internal TrainedBpe(List<string> tokens, List<(string, string)> merges, int firstSpecialId)
    {
        Tokens = tokens;
        Merges = merges;
        FirstSpecialId = firstSpecialId;
    }

    /// <summary>Spelling of every id: GPT-2 byte-level characters for learned tokens, plain text for special tokens.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Merge rules in the order learned (byte-level spellings).</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    public int FirstSpecialId { get; }

    /// <summary>The first <paramref name="count"/> byte tokens and end-of-text, no merges: a vocabulary for synthetic token data, which needs no real tokenizer.</summary>
    public static TrainedBpe Bytes(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 256);
        var all = new BpeTrainer { VocabSize = 257 }.Train(new StringReader(""));
        return new TrainedBpe([.. all.Tokens.Take(count), .. all.Tokens.Skip(all.FirstSpecialId)], [], count);
    }

    /// <summary>Writes a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer/decoder, special tokens as added tokens).</summary>
    public void Save(string tokenizerJsonPath)
    {
        using var file = File.Create(tokenizerJsonPath);
        HfBpeJsonWriter.Write(file, Tokens, Merges, Enumerable.Range(FirstSpecialId, Tokens.Count - FirstSpecialId).Select(id => (id, true)));
    }
}

/// <summary>
/// Trains a GPT-2-style byte-level BPE. Text is read once to count GPT-2 pre-tokens; merging then works on
/// the distinct words with pair counts updated incrementally, touching only the words that contain the
/// merged pair.
/// </summary>
public sealed class BpeTrainer
{
    /// <summary>Final vocabulary size including the 256 bytes and the special tokens.</summary>
    public int VocabSize { get; init; } = 8192;

    /// <summary>Tokens kept whole; occurrences in the training text are cut out before pre-tokenization.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["<|endoftext|>"];

    /// <summary>Training stops early when no pair occurs at least this often.</summary>
    public int MinPairCount { get; init; } = 2;

    public TrainedBpe Train(IEnumerable<string> textFiles)
    {
        ArgumentNullException.ThrowIfNull(textFiles);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var path in textFiles)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"training text not found: {path}", path);
            using var reader = new StreamReader(path, Encoding.UTF8);
            CountWords(reader, counts);
        }
        return Merge(counts);
    }

    public TrainedBpe Train(TextReader text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        CountWords(text, counts);
        return Merge(counts);
    }

    private void CountWords(TextReader reader, Dictionary<string, long> counts)
    {
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var buffer = new char[1 << 20];
        var filled = 0;
        while (true)
        {
            var read = reader.Read(buffer, filled, buffer.Length - filled);
            filled += read;
            var end = read == 0;
            var cut = end ? filled : LastSafeCut(buffer.AsSpan(0, filled));
            if (cut == 0 && !end)
            {
                Array.Resize(ref buffer, buffer.Length * 2); // no whitespace in the whole buffer: read more
                continue;
            }
            CountChunk(buffer.AsSpan(0, cut), lookup);
            buffer.AsSpan(cut, filled - cut).CopyTo(buffer);
            filled -= cut;
            if (end) return;
        }
    }

    /// <summary>
    /// Last position where non-whitespace is followed by whitespace. No GPT-2 pre-token spans such a boundary
    /// and the pattern only looks ahead, so splitting there gives the same pre-tokens as the whole text.
    /// </summary>
    private static int LastSafeCut(ReadOnlySpan<char> text)
    {
        for (var i = text.Length - 1; i > 0; i--)
        {
            if (char.IsWhiteSpace(text[i]) && !char.IsWhiteSpace(text[i - 1])) return i;
        }
        return 0;
    }

    private void CountChunk(ReadOnlySpan<char> text, Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> lookup)
    {
        while (!text.IsEmpty)
        {
            var (at, length) = NextSpecial(text);
            var segment = text[..at];
            foreach (var m in ByteLevel.Gpt2Regex().EnumerateMatches(segment))
                CollectionsMarshal.GetValueRefOrAddDefault(lookup, segment.Slice(m.Index, m.Length), out _)++;
            text = text[Math.Min(text.Length, at + length)..];
        }
    }

    private (int At, int Length) NextSpecial(ReadOnlySpan<char> text)
    {
        var (at, length) = (text.Length, 0);
        foreach (var special in SpecialTokens)
        {
            var i = text[..at].IndexOf(special, StringComparison.Ordinal);
            if (i >= 0) (at, length) = (i, special.Length);
        }
        return (at, length);
    }

    private TrainedBpe Merge(Dictionary<string, long> counts)
    {
        var target = VocabSize - SpecialTokens.Count;
        if (target < 256) throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, $"vocabulary must hold 256 bytes plus {SpecialTokens.Count} special tokens");
        var corpus = new Corpus(counts);
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.ToChar((byte)b).ToString()).ToList();
        var idOfToken = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        var recorded = new HashSet<(int, int)>();

        while (tokens.Count < target && corpus.TryTakeBest(MinPairCount, out var left, out var right))
        {
            var spelling = tokens[left] + tokens[right];
            // Different merge paths can spell the same token ("ab"+"c", "a"+"bc"); both map to one id, as in HF.
            if (!idOfToken.TryGetValue(spelling, out var id))
            {
                id = tokens.Count;
                tokens.Add(spelling);
                idOfToken.Add(spelling, id);
            }
            // A reused id can bring back a pair merged before; HF keeps one rank per pair, so list each once.
            if (recorded.Add((left, right))) merges.Add((tokens[left], tokens[right]));
            corpus.Apply(left, right, id);
        }

        var firstSpecial = tokens.Count;
        tokens.AddRange(SpecialTokens);
        return new TrainedBpe(tokens, merges, firstSpecial);
    }

    /// <summary>Distinct words as symbol-id sequences with their frequencies, plus live pair statistics.</summary>
    private sealed class Corpus
    {
        private readonly int[][] words;
        private readonly int[] lengths;
        private readonly long[] frequency;
        private readonly Dictionary<long, long> pairCounts = new();
        private readonly Dictionary<long, List<int>> wordsWithPair = new(); // may list words that lost the pair since
        private readonly PriorityQueue<long, (long Count, long Pair)> queue = new(ByCount.Instance);
        private readonly Dictionary<long, long> delta = new();

        public Corpus(Dictionary<string, long> counts)
        {
            words = new int[counts.Count][];
            lengths = new int[counts.Count];
            frequency = new long[counts.Count];
            var w = 0;
            foreach (var (word, count) in counts)
            {
                var bytes = Encoding.UTF8.GetBytes(word);
                words[w] = Array.ConvertAll(bytes, b => (int)b);
                lengths[w] = bytes.Length;
                frequency[w] = count;
                for (var i = 0; i + 1 < bytes.Length; i++)
                {
                    var pair = Key(bytes[i], bytes[i + 1]);
                    CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _) += count;
                    NoteWord(pair, w);
                }
                w++;
            }
            foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair));
        }

        public bool TryTakeBest(int minCount, out int left, out int right)
        {
            // Queue entries are not removed when counts change; an entry is current only if its count still matches.
            while (queue.TryDequeue(out var pair, out var p))
            {
                if (!pairCounts.TryGetValue(pair, out var count) || count != p.Count) continue;
                if (count < minCount) break;
                (left, right) = ((int)(pair >> 32), (int)pair);
                return true;
            }
            (left, right) = (0, 0);
            return false;
        }

        public void Apply(int left, int right, int merged)
        {
            var pair = Key(left, right);
            delta.Clear();
            var last = -1;
            foreach (var w in wordsWithPair[pair])
            {
                if (w != last) ApplyToWord(w, left, right, merged);
                last = w;
            }
            wordsWithPair.Remove(pair);
            foreach (var (p, d) in delta)
            {
                if (d == 0) continue;
                ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, p, out _);
                count += d;
                if (count <= 0) pairCounts.Remove(p);
                else queue.Enqueue(p, (count, p));
            }
        }

        private void ApplyToWord(int w, int left, int right, int merged)
        {
            var symbols = words[w];
            var n = lengths[w];
            var found = false;
            for (var i = 0; i + 1 < n && !found; i++) found = symbols[i] == left && symbols[i + 1] == right;
            if (!found) return;

            var f = frequency[w];
            for (var i = 0; i + 1 < n; i++) CollectionsMarshal.GetValueRefOrAddDefault(delta, Key(symbols[i], symbols[i + 1]), out _) -= f;
            var j = 0;
            for (var i = 0; i < n; j++)
            {
                if (i + 1 < n && symbols[i] == left && symbols[i + 1] == right)
                {
                    symbols[j] = merged;
                    i += 2;
                }
                else
                {
                    symbols[j] = symbols[i++];
                }
            }
            lengths[w] = n = j;
            for (var i = 0; i + 1 < n; i++)
            {
                var p = Key(symbols[i], symbols[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(delta, p, out _) += f;
                if (symbols[i] == merged || symbols[i + 1] == merged) NoteWord(p, w);
            }
        }

        private void NoteWord(long pair, int w)
        {
            ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(wordsWithPair, pair, out _);
            list ??= [];
            if (list.Count == 0 || list[^1] != w) list.Add(w);
        }

        private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
    }

    /// <summary>Most frequent pair first; ties go to the smaller pair key so training is deterministic.</summary>
    private sealed class ByCount : IComparer<(long Count, long Pair)>
    {
        public static readonly ByCount Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }
}

using System.Text.Json;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

/// <summary>tok512: the same vocabulary as a SentencePiece .model, a llama2.c tokenizer.bin, and GGUF-style arrays.</summary>
public class SentencePieceTokenizerTests
{
    private static string ModelPath => SharedData.Require("models/stories260K/tok512.model");
    private static string BinPath => SharedData.Require("models/stories260K/tok512.bin");

    /// <summary>(prompt, ids with BOS) from llama.cpp, stored in reference.json.</summary>
    public static TheoryData<int> Cases => [0, 1];

    private static (string Prompt, int[] Ids) ReferenceCase(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Require("models/stories260K/reference.json")));
        var c = doc.RootElement.GetProperty("cases")[index];
        return (c.GetProperty("prompt").GetString()!, [.. c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32())]);
    }

    private static IEnumerable<ITokenizer> AllRoutes()
    {
        yield return ScoredBpeTokenizer.LoadSentencePiece(ModelPath);
        yield return ScoredBpeTokenizer.LoadLlama2c(BinPath);
        yield return GgufLlamaFromBin();
    }

    /// <summary>The "llama" GGUF route, fed the pieces of tokenizer.bin spelled as GGUF stores them ('▁' for space).</summary>
    private static ITokenizer GgufLlamaFromBin()
    {
        var (pieces, scores) = ReadBin(BinPath);
        var tokens = pieces.Select(p => p.Replace(' ', '\u2581')).ToList();
        var types = tokens.Select((t, i) => i == 0 ? 2 : i <= 2 ? 3 : t.StartsWith("<0x") && t.Length == 6 ? 6 : 1).ToArray();
        tokens[1] = "<s>";
        tokens[2] = "</s>";
        return GgufTokenizer.Create(new GgufTokenizerMetadata("llama", tokens, scores, types, BosId: 1, EosId: 2, AddBos: true));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchLlamaCppReferenceIds(int index)
    {
        var (prompt, expected) = ReferenceCase(index);
        foreach (var tok in AllRoutes())
        {
            using (tok)
            {
                Assert.Equal(1, tok.Bos);
                Assert.Equal(2, tok.Eos);
                Assert.True(tok.AddsBosByDefault);
                Assert.Equal(expected, tok.Encode(prompt));
                Assert.Equal(expected[1..], tok.Encode(prompt, addBos: false));
                Assert.Equal(prompt, tok.Decode(expected, skipSpecial: true));
                Assert.Equal("<s>" + prompt, tok.Decode(expected));
            }
        }
    }

    [Fact]
    public void RoutesAgreeOnCorpusAndOddText()
    {
        var lines = File.ReadLines(SharedData.Require("corpus/tinystories_sample.txt")).Take(300).ToList();
        lines.AddRange(TextSamples.Varied);
        lines.Add(string.Join("\n", lines.Take(20))); // multi-line text in one call
        var routes = AllRoutes().ToArray();
        try
        {
            foreach (var line in lines)
            {
                var expected = routes[0].Encode(line, addBos: true);
                for (var r = 1; r < routes.Length; r++) Assert.Equal(expected, routes[r].Encode(line, addBos: true));
                foreach (var tok in routes) Assert.Equal(line, tok.Decode(expected, skipSpecial: true));
            }
        }
        finally
        {
            foreach (var tok in routes) tok.Dispose();
        }
    }

    [Fact]
    public void Llama2cMatchesNaiveRunCAlgorithm()
    {
        var (pieces, scores) = ReadBin(BinPath);
        using var tok = ScoredBpeTokenizer.LoadLlama2c(BinPath);
        foreach (var line in File.ReadLines(SharedData.Require("corpus/tinystories_sample.txt")).Skip(300).Take(200).Concat(TextSamples.Varied))
            Assert.Equal(RunCEncode(pieces, scores, line), tok.Encode(line));
    }

    /// <summary>
    /// run.c's encode as specified: BOS, dummy-prefix " ", each UTF-8 character's piece or its bytes (id = byte + 3),
    /// then while any adjacent pair concatenates to a piece, merge the first pair with the highest score.
    /// </summary>
    private static List<int> RunCEncode(List<string> pieces, List<float> scores, string text)
    {
        var ids = new Dictionary<string, int>();
        for (var i = 0; i < pieces.Count; i++) ids.TryAdd(pieces[i], i);
        var tokens = new List<int> { 1 };
        if (text.Length > 0) tokens.Add(ids[" "]);
        for (var i = 0; i < text.Length; i += char.IsSurrogatePair(text, i) ? 2 : 1)
        {
            var ch = text.Substring(i, char.IsSurrogatePair(text, i) ? 2 : 1);
            if (ids.TryGetValue(ch, out var id)) tokens.Add(id);
            else tokens.AddRange(System.Text.Encoding.UTF8.GetBytes(ch).Select(b => b + 3));
        }
        while (true)
        {
            var (bestScore, bestId, bestAt) = (float.NegativeInfinity, -1, -1);
            for (var i = 1; i + 1 < tokens.Count; i++)
            {
                if (ids.TryGetValue(pieces[tokens[i]] + pieces[tokens[i + 1]], out var id) && scores[id] > bestScore)
                    (bestScore, bestId, bestAt) = (scores[id], id, i);
            }
            if (bestAt < 0) return tokens;
            tokens[bestAt] = bestId;
            tokens.RemoveAt(bestAt + 1);
        }
    }

    private static (List<string> Pieces, List<float> Scores) ReadBin(string path)
    {
        var data = File.ReadAllBytes(path);
        var (pieces, scores) = (new List<string>(), new List<float>());
        for (var pos = 4; pos < data.Length;)
        {
            scores.Add(BitConverter.ToSingle(data, pos));
            var length = BitConverter.ToInt32(data, pos + 4);
            pieces.Add(System.Text.Encoding.UTF8.GetString(data, pos + 8, length));
            pos += 8 + length;
        }
        return (pieces, scores);
    }

    [Fact]
    public void TokenTextShowsSpacesBytesAndControls()
    {
        foreach (var tok in AllRoutes())
        {
            using (tok)
            {
                Assert.Equal(512, tok.VocabSize);
                Assert.Equal("<s>", tok.TokenText(1));
                Assert.True(tok.IsSpecial(1) && tok.IsSpecial(2) && !tok.IsSpecial(403));
                Assert.Equal("\n", tok.TokenText(3 + 0x0A));
                Assert.Equal("<0xE6>", tok.TokenText(3 + 0xE6));
                Assert.Equal(" the", tok.TokenText(265));
                Assert.True(tok.TryGetId(" the", out var id) && id == 265);
                Assert.True(tok.TryGetId("\u2581the", out id) && id == 265);
                Assert.Equal([1, 410 /* ' ' */, 233, 154, 168], tok.Encode("日")); // no piece for 日: UTF-8 bytes + 3
                Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([512]));
            }
        }
    }

    [Fact]
    public void BadLlama2cFilesNameThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pinpoint-bad-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(path, [.. File.ReadAllBytes(BinPath).Take(101)]);
            Assert.Contains(path, Assert.Throws<InvalidDataException>(() => ScoredBpeTokenizer.LoadLlama2c(path)).Message);
            Assert.Contains(path + ".x", Assert.Throws<FileNotFoundException>(() => ScoredBpeTokenizer.LoadLlama2c(path + ".x")).Message);
            File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
            Assert.Contains(path, Assert.Throws<InvalidDataException>(() => ScoredBpeTokenizer.LoadSentencePiece(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

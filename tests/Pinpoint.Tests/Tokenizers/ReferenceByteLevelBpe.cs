using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Pinpoint.Tests.Tokenizers;

/// <summary>
/// Independent, deliberately naive byte-level BPE (GPT-2's published algorithm) used to check the library
/// route: split on added tokens, pre-tokenize with GPT-2's regex, map bytes to GPT-2's characters, then
/// repeatedly apply the lowest-ranked merge present.
/// </summary>
public sealed class ReferenceByteLevelBpe
{
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private readonly Regex pre;
    private readonly Dictionary<string, int> vocab = new();
    private readonly Dictionary<(string, string), int> ranks = new();
    private readonly Dictionary<string, int> added = new();
    private readonly char[] byteChar = new char[256];

    public ReferenceByteLevelBpe(string tokenizerJsonPath, string preTokenizerPattern = Gpt2Pattern)
    {
        pre = new Regex(preTokenizerPattern);
        using var doc = JsonDocument.Parse(File.ReadAllText(tokenizerJsonPath));
        var model = doc.RootElement.GetProperty("model");
        foreach (var p in model.GetProperty("vocab").EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        var rank = 0;
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            var parts = m.ValueKind == JsonValueKind.String ? m.GetString()!.Split(' ') : [m[0].GetString()!, m[1].GetString()!];
            ranks[(parts[0], parts[1])] = rank++;
        }
        foreach (var a in doc.RootElement.GetProperty("added_tokens").EnumerateArray())
            added[a.GetProperty("content").GetString()!] = a.GetProperty("id").GetInt32();
        var n = 0;
        for (var b = 0; b < 256; b++)
            byteChar[b] = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255) ? (char)b : (char)(256 + n++);
    }

    public List<int> Encode(string text)
    {
        var ids = new List<int>();
        var pattern = string.Join("|", added.Keys.Select(Regex.Escape));
        foreach (var segment in Regex.Split(text, $"({pattern})"))
        {
            if (added.TryGetValue(segment, out var special)) { ids.Add(special); continue; }
            foreach (Match word in pre.Matches(segment)) ids.AddRange(EncodeWord(word.Value));
        }
        return ids;
    }

    private IEnumerable<int> EncodeWord(string word)
    {
        var parts = Encoding.UTF8.GetBytes(word).Select(b => byteChar[b].ToString()).ToList();
        while (true)
        {
            var best = -1;
            var bestRank = int.MaxValue;
            for (var i = 0; i + 1 < parts.Count; i++)
            {
                if (ranks.TryGetValue((parts[i], parts[i + 1]), out var r) && r < bestRank) (best, bestRank) = (i, r);
            }
            if (best < 0) break;
            var (l, rr) = (parts[best], parts[best + 1]);
            // Apply this merge everywhere, left to right, as GPT-2's bpe() does.
            var merged = new List<string>();
            for (var i = 0; i < parts.Count; i++)
            {
                if (i + 1 < parts.Count && parts[i] == l && parts[i + 1] == rr) { merged.Add(l + rr); i++; }
                else merged.Add(parts[i]);
            }
            parts = merged;
        }
        return parts.Select(p => vocab[p]);
    }
}

using System.Text;
using System.Text.Json;

namespace Pinpoint.Training;

/// <summary>
/// Streams documents from corpus files without loading them whole: plain text (documents separated by
/// <c>&lt;|endoftext|&gt;</c> lines or markers, else blank-line-separated paragraphs grouped into chunks), JSONL
/// (a "text" field per line) and WordNet-style TSV glosses ("lemmas: gloss" per line). A plain-text document is
/// cut at a line end once it reaches <see cref="MaxDocumentChars"/>, so a file without separators or blank lines is
/// never held whole: a reader holds at most one such piece.
/// </summary>
public static class CorpusReader
{
    public const string DocumentSeparator = "<|endoftext|>";
    private const int ParagraphChunkChars = 4000;

    /// <summary>The longest plain-text document held at once (characters, before the line that crosses it ends).</summary>
    public const int MaxDocumentChars = 1 << 20;

    public static IEnumerable<string> Documents(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"corpus file not found: {path}", path);
        if (new FileInfo(path).Length == 0) throw new InvalidDataException($"{path}: corpus file is empty");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" => JsonLines(path),
            ".tsv" => Glosses(path),
            _ => PlainText(path),
        };
    }

    private static IEnumerable<string> JsonLines(string path)
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString()
                    : throw new InvalidDataException($"{path}:{lineNumber}: a JSONL corpus line needs a string \"text\" field");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: not valid JSON ({e.Message})");
            }
            if (!string.IsNullOrWhiteSpace(text)) yield return text!;
        }
    }

    /// <summary>WordNet gloss lines "offset\tpos\tlemma; lemma\tgloss" become "lemma: gloss" sentences.</summary>
    private static IEnumerable<string> Glosses(string path)
    {
        var chunk = new StringBuilder();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            var fields = line.Split('\t');
            if (fields.Length < 4) throw new InvalidDataException($"{path}:{lineNumber}: expected 4 tab-separated fields (offset, pos, lemmas, gloss), got {fields.Length}");
            var lemma = fields[2].Split(';')[0].Trim();
            chunk.Append(lemma).Append(": ").Append(fields[3].Trim()).Append('\n');
            if (chunk.Length >= ParagraphChunkChars)
            {
                yield return chunk.ToString();
                chunk.Clear();
            }
        }
        if (chunk.Length > 0) yield return chunk.ToString();
    }

    private static IEnumerable<string> PlainText(string path)
    {
        var doc = new StringBuilder();
        bool sawSeparator = false;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw;
            int sep;
            while ((sep = line.IndexOf(DocumentSeparator, StringComparison.Ordinal)) >= 0)
            {
                sawSeparator = true;
                doc.Append(line.AsSpan(0, sep));
                if (doc.ToString().Trim() is { Length: > 0 } d) yield return d;
                doc.Clear();
                line = line[(sep + DocumentSeparator.Length)..];
            }
            // Without explicit separators, cut at paragraph breaks once a chunk is long enough.
            if (!sawSeparator && line.Length == 0 && doc.Length >= ParagraphChunkChars)
            {
                yield return doc.ToString().Trim();
                doc.Clear();
                continue;
            }
            doc.Append(line).Append('\n');
            if (doc.Length >= MaxDocumentChars)
            {
                if (doc.ToString().Trim() is { Length: > 0 } piece) yield return piece;
                doc.Clear();
            }
        }
        if (doc.ToString().Trim() is { Length: > 0 } last) yield return last;
    }
}

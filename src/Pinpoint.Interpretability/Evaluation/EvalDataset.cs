using System.Text.Json;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>A two-way choice: does the model prefer <see cref="Target"/> over <see cref="Foil"/> right after <see cref="Prompt"/>?</summary>
/// <param name="Group">Optional "group" field, for per-group accuracy.</param>
/// <param name="Source">Where the item came from, "FILE:LINE" for a JSONL line; used in error messages.</param>
/// <param name="Counterfactual">Optional "counterfactual" field: a prompt where the answer changes (used by explain, ignored by score).</param>
public sealed record ScoreItem(string Prompt, string Target, string Foil, string? Group = null, string? Source = null, string? Counterfactual = null);

/// <summary>A knowledge probe: is any of <see cref="Answers"/> (by its first token) among the model's top predictions after <see cref="Prompt"/>?</summary>
public sealed record KnowledgeItem(string Prompt, string[] Answers, string? Group = null, string? Source = null);

/// <summary>Two texts that differ in one concept (positive has it, negative does not); <see cref="Source"/> is "FILE:LINE".</summary>
public sealed record ContrastivePair(string Positive, string Negative, string Source);

/// <summary>Which kind of items a JSONL evaluation file holds.</summary>
public enum EvalKind
{
    /// <summary>Items with "prompt", "target" and "foil".</summary>
    TargetFoil,
    /// <summary>Items with "prompt" and "answers".</summary>
    Answers,
}

/// <summary>
/// Reads JSONL evaluation files: one JSON object per line, blank lines allowed, fields other than the ones an item
/// needs ignored. A line that is not valid JSON or lacks a field fails with <see cref="InvalidDataException"/>
/// "FILE:LINE: problem"; nothing is skipped silently.
/// </summary>
public static class EvalDataset
{
    /// <summary>The kind of the file's first item: <see cref="EvalKind.Answers"/> when it has "answers".</summary>
    public static EvalKind DetectKind(string path)
    {
        foreach (var (line, item) in Objects(path))
            return item.TryGetProperty("answers", out _) ? EvalKind.Answers : EvalKind.TargetFoil;
        throw new InvalidDataException($"{path}: no items");
    }

    public static IReadOnlyList<ScoreItem> ReadScoreItems(string path)
    {
        var items = new List<ScoreItem>();
        foreach (var (line, item) in Objects(path))
            items.Add(new ScoreItem(
                RequiredString(item, "prompt", path, line),
                RequiredString(item, "target", path, line),
                RequiredString(item, "foil", path, line),
                OptionalString(item, "group", path, line),
                $"{path}:{line}",
                OptionalString(item, "counterfactual", path, line)));
        return items.Count > 0 ? items : throw new InvalidDataException($"{path}: no items");
    }

    public static IReadOnlyList<KnowledgeItem> ReadKnowledgeItems(string path)
    {
        var items = new List<KnowledgeItem>();
        foreach (var (line, item) in Objects(path))
        {
            var prompt = RequiredString(item, "prompt", path, line);
            if (!item.TryGetProperty("answers", out var answers)) throw new InvalidDataException($"{path}:{line}: missing \"answers\"");
            if (answers.ValueKind != JsonValueKind.Array || answers.GetArrayLength() == 0)
                throw new InvalidDataException($"{path}:{line}: \"answers\" must be a non-empty array of strings");
            var list = answers.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String && a.GetString()!.Length > 0
                ? a.GetString()!
                : throw new InvalidDataException($"{path}:{line}: \"answers\" must hold non-empty strings")).ToArray();
            items.Add(new KnowledgeItem(prompt, list, OptionalString(item, "group", path, line), $"{path}:{line}"));
        }
        return items.Count > 0 ? items : throw new InvalidDataException($"{path}: no items");
    }

    /// <summary>Contrastive pairs <c>{"positive","negative"}</c>, e.g. for a mean-difference steering vector.</summary>
    public static IReadOnlyList<ContrastivePair> ReadContrastivePairs(string path)
    {
        var pairs = new List<ContrastivePair>();
        foreach (var (line, item) in Objects(path))
            pairs.Add(new ContrastivePair(RequiredString(item, "positive", path, line), RequiredString(item, "negative", path, line), $"{path}:{line}"));
        return pairs.Count > 0 ? pairs : throw new InvalidDataException($"{path}: no items");
    }

    /// <summary>Every non-blank line as a JSON object, with its 1-based line number.</summary>
    internal static IEnumerable<(int Line, JsonElement Item)> Objects(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset not found: {path}", path);
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonElement item;
            try
            {
                using var doc = JsonDocument.Parse(text);
                item = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{line}: not valid JSON ({e.Message})");
            }
            if (item.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}:{line}: expected a JSON object, got {item.ValueKind.ToString().ToLowerInvariant()}");
            yield return (line, item);
        }
    }

    private static string RequiredString(JsonElement item, string name, string path, int line)
    {
        if (!item.TryGetProperty(name, out var value)) throw new InvalidDataException($"{path}:{line}: missing \"{name}\"");
        if (value.ValueKind != JsonValueKind.String || value.GetString()!.Length == 0)
            throw new InvalidDataException($"{path}:{line}: \"{name}\" must be a non-empty string");
        return value.GetString()!;
    }

    private static string? OptionalString(JsonElement item, string name, string path, int line)
    {
        if (!item.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new InvalidDataException($"{path}:{line}: \"{name}\" must be a string");
    }
}

using System.Globalization;
using System.Text.Json;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>One line of a probe dataset: a text and either a class label or a number.</summary>
public sealed record ProbeItem(string Text, string? Label, double? Value, int Line);

/// <summary>
/// A JSONL probe dataset: every line <c>{"text","label"}</c> (classes; a label may be a string, number or bool)
/// or every line <c>{"text","value"}</c> (a number). Blank lines are skipped; anything else that does not fit is
/// an error naming FILE:LINE.
/// </summary>
public sealed class ProbeDataset
{
    private ProbeDataset(string path, List<ProbeItem> items)
    {
        Path = path;
        Items = items;
        IsRegression = items[0].Value is not null;
        if (IsRegression)
        {
            Classes = [];
            Labels = [];
            Values = items.Select(i => i.Value!.Value).ToArray();
        }
        else
        {
            Classes = items.Select(i => i.Label!).Distinct(StringComparer.Ordinal).ToArray();
            var index = Classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
            Labels = items.Select(i => index[i.Label!]).ToArray();
            Values = [];
        }
    }

    public string Path { get; }
    public IReadOnlyList<ProbeItem> Items { get; }
    public bool IsRegression { get; }
    /// <summary>Class names in order of first appearance (empty for a regression set).</summary>
    public string[] Classes { get; }
    /// <summary>Class index of each item (empty for a regression set).</summary>
    public int[] Labels { get; }
    public double[] Values { get; }

    public IReadOnlyList<string> Texts => Items.Select(i => i.Text).ToList();

    public static ProbeDataset Read(string path, int folds)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset not found: {path}", path);
        var items = new List<ProbeItem>();
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(raw);
                root = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{line}: not valid JSON ({e.Message})");
            }
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(text.GetString()))
                throw new InvalidDataException($"{path}:{line}: each line needs a non-empty string \"text\"");
            bool hasLabel = root.TryGetProperty("label", out var label), hasValue = root.TryGetProperty("value", out var value);
            if (hasLabel == hasValue)
                throw new InvalidDataException($"{path}:{line}: each line needs exactly one of \"label\" (a class) or \"value\" (a number)");
            if (items.Count > 0 && hasValue != (items[0].Value is not null))
                throw new InvalidDataException($"{path}:{line}: mixes \"label\" and \"value\" lines (line {items[0].Line} has {(hasValue ? "\"label\"" : "\"value\"")})");
            if (hasValue)
            {
                if (value.ValueKind != JsonValueKind.Number || !double.IsFinite(value.GetDouble()))
                    throw new InvalidDataException($"{path}:{line}: \"value\" must be a finite number, got {value.GetRawText()}");
                items.Add(new ProbeItem(text.GetString()!, null, value.GetDouble(), line));
            }
            else
            {
                string name = label.ValueKind switch
                {
                    JsonValueKind.String when !string.IsNullOrWhiteSpace(label.GetString()) => label.GetString()!,
                    JsonValueKind.Number => label.GetRawText(),
                    JsonValueKind.True or JsonValueKind.False => label.GetRawText(),
                    _ => throw new InvalidDataException($"{path}:{line}: \"label\" must be a non-empty string, a number or a bool, got {label.GetRawText()}"),
                };
                items.Add(new ProbeItem(text.GetString()!, name, null, line));
            }
        }
        if (items.Count == 0) throw new InvalidDataException($"{path}: no items");
        int distinct = items.Select(i => i.Text).Distinct(StringComparer.Ordinal).Count();
        if (distinct < folds)
            throw new InvalidDataException($"{path}: {distinct} distinct texts, fewer than the {folds} cross-validation folds");
        var set = new ProbeDataset(path, items);
        if (!set.IsRegression && set.Classes.Length < 2)
            throw new InvalidDataException($"{path}: every item has the label \"{set.Classes[0]}\"; a probe needs at least two classes");
        if (!set.IsRegression)
        {
            var conflict = items.GroupBy(i => i.Text, StringComparer.Ordinal).FirstOrDefault(g => g.Select(i => i.Label).Distinct().Count() > 1);
            if (conflict is not null)
                throw new InvalidDataException($"{path}:{conflict.ElementAt(1).Line}: the same text has another label on line {conflict.First().Line}");
        }
        return set;
    }

    /// <summary>The last word of a text, lower-cased and without surrounding punctuation (the control task's word type).</summary>
    public static string FinalWord(string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var last = words.Length == 0 ? text : words[^1];
        var trimmed = last.Trim().Trim(".,;:!?\"'()[]".ToCharArray());
        return (trimmed.Length == 0 ? last : trimmed).ToLower(CultureInfo.InvariantCulture);
    }
}

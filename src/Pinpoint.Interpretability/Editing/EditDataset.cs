using System.Text.Json;

namespace Pinpoint.Interpretability.Editing;

/// <summary>A CounterFact-style item: the edit, prompts that say the same in other words, and prompts about other subjects.</summary>
public sealed record EditItem(EditRequest Request, string[] Paraphrases, string[] Neighbors);

/// <summary>
/// Reads edit datasets: JSONL lines <c>{"subject","prompt","target_new","paraphrases":[..],"neighbors":[..]}</c>; <c>prompt</c> and
/// each paraphrase hold <c>{}</c> where the subject goes, neighbours are full prompts. Problems fail with "FILE:LINE: problem".
/// </summary>
public static class EditDataset
{
    public static IReadOnlyList<EditItem> Read(string path)
    {
        var items = new List<EditItem>();
        foreach (var (line, item) in Evaluation.EvalDataset.Objects(path))
        {
            string where = $"{path}:{line}";
            var subject = String(item, "subject", where);
            var prompt = String(item, "prompt", where);
            if (!prompt.Contains("{}", StringComparison.Ordinal)) throw new InvalidDataException($"{where}: \"prompt\" has no {{}} for the subject");
            var paraphrases = Strings(item, "paraphrases", where);
            foreach (var p in paraphrases)
                if (!p.Contains("{}", StringComparison.Ordinal)) throw new InvalidDataException($"{where}: paraphrase \"{p}\" has no {{}} for the subject");
            items.Add(new EditItem(new EditRequest(subject, prompt, String(item, "target_new", where), where), paraphrases, Strings(item, "neighbors", where)));
        }
        return items.Count > 0 ? items : throw new InvalidDataException($"{path}: no items");
    }

    private static string String(JsonElement item, string name, string where)
    {
        if (!item.TryGetProperty(name, out var value)) throw new InvalidDataException($"{where}: missing \"{name}\"");
        if (value.ValueKind != JsonValueKind.String || value.GetString()!.Trim().Length == 0)
            throw new InvalidDataException($"{where}: \"{name}\" must be a non-empty string");
        return value.GetString()!;
    }

    private static string[] Strings(JsonElement item, string name, string where)
    {
        if (!item.TryGetProperty(name, out var value)) return [];
        if (value.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{where}: \"{name}\" must be an array of strings");
        return value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String && v.GetString()!.Trim().Length > 0
            ? v.GetString()!
            : throw new InvalidDataException($"{where}: \"{name}\" must hold non-empty strings")).ToArray();
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>One generated probe set: its file name, where its entities come from and how many were written.</summary>
public sealed record SpaceTimeSet(string File, string Source, string Value, int Items);

/// <summary>
/// Builds Gurnee &amp; Tegmark's space and time probe sets as <c>{"text","value"}</c> JSONL from the entity tables in
/// <c>../shared/concepts</c>: latitude and longitude of world places (world_models/world_place.csv) and US places
/// (us_place.csv), the release year of works of art (art.csv, "TITLE by CREATOR") and the birth year of people
/// (wordnet_people_years.json, entries of a kind shared by at least five entries, i.e. professions and titles, with a
/// birth and a death year 10–110 years apart, wars and battles excluded). Each text is the entity's name alone, as in the paper;
/// entities are ranked by page views (population for US places) and the first <c>perSet</c> distinct names kept, so the sets are deterministic.
/// </summary>
public static class SpaceTimeDatasets
{
    /// <summary>Entities per set in evals/concepts (the committed files are this builder's output at this size).</summary>
    public const int DefaultPerSet = 1000;

    public static IReadOnlyList<SpaceTimeSet> Build(string conceptsFolder, string outFolder, int perSet)
    {
        Directory.CreateDirectory(outFolder);
        var sets = new List<SpaceTimeSet>();
        var world = Path.Combine(conceptsFolder, "world_models", "world_place.csv");
        var worldRows = Ranked(ReadCsv(world), "page_views", perSet, r => r["name"]);
        sets.Add(Write(outFolder, "space-world-latitude.jsonl", world, "latitude", worldRows.Select(r => (r["name"], Number(r, "latitude", world)))));
        sets.Add(Write(outFolder, "space-world-longitude.jsonl", world, "longitude", worldRows.Select(r => (r["name"], Number(r, "longitude", world)))));
        var us = Path.Combine(conceptsFolder, "world_models", "us_place.csv");
        var usRows = Ranked(ReadCsv(us), "population", perSet, r => r["name"]);
        sets.Add(Write(outFolder, "space-us-latitude.jsonl", us, "latitude", usRows.Select(r => (r["name"], Number(r, "latitude", us)))));
        sets.Add(Write(outFolder, "space-us-longitude.jsonl", us, "longitude", usRows.Select(r => (r["name"], Number(r, "longitude", us)))));
        var art = Path.Combine(conceptsFolder, "world_models", "art.csv");
        var artRows = Ranked(ReadCsv(art).Where(r => Year(r["release_date"]) is not null && r["creator"].Length > 0), "page_views", perSet,
            r => $"{r["title"]} by {r["creator"]}");
        sets.Add(Write(outFolder, "time-art-year.jsonl", art, "release year", artRows.Select(r => ($"{r["title"]} by {r["creator"]}", (double)Year(r["release_date"])!.Value))));
        var people = Path.Combine(conceptsFolder, "wordnet_people_years.json");
        sets.Add(Write(outFolder, "time-people-birth-year.jsonl", people, "birth year", People(people).Take(perSet)));
        return sets;
    }

    /// <summary>People with a plausible lifespan, in file order, one per name.</summary>
    private static IEnumerable<(string Text, double Value)> People(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // Professions and titles are shared by many entries; one-off kinds ("ship canal", "Korea") are places and things.
        var common = doc.RootElement.EnumerateArray().SelectMany(Kinds).CountBy(k => k).Where(k => k.Value >= MinKindEntries).Select(k => k.Key).ToHashSet();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!Kinds(e).Any(common.Contains)) continue;
            if (!e.TryGetProperty("name", out var name) || !e.TryGetProperty("birth", out var birth) || !e.TryGetProperty("death", out var death)) continue;
            if (birth.ValueKind != JsonValueKind.Number || death.ValueKind != JsonValueKind.Number) continue;
            int b = birth.GetInt32(), d = death.GetInt32();
            if (d - b is < 10 or > 110 || IsEvent(e) || name.GetString() is not { Length: > 0 } text || !seen.Add(text)) continue;
            yield return (text, b);
        }
    }

    private static readonly HashSet<string> EventKinds = new(StringComparer.OrdinalIgnoreCase)
    {
        "war", "battle", "campaign", "siege", "revolution", "crusade", "invasion", "offensive", "rebellion", "insurrection", "uprising", "conflict", "operation",
    };

    /// <summary>Wars, battles and the like also have a start and an end year; their kind's last word names them.</summary>
    private static bool IsEvent(JsonElement entry) => Kinds(entry).Any(kind => EventKinds.Contains(kind.Split(' ')[^1]));

    private const int MinKindEntries = 5;

    private static IEnumerable<string> Kinds(JsonElement entry) =>
        entry.TryGetProperty("instance_of", out var kinds) && kinds.ValueKind == JsonValueKind.Array
            ? kinds.EnumerateArray().Select(k => k.GetString()).OfType<string>()
            : [];

    private static List<Dictionary<string, string>> Ranked(IEnumerable<Dictionary<string, string>> rows, string rankBy, int count, Func<Dictionary<string, string>, string> text)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return rows.Where(r => text(r).Trim().Length > 0)
            .OrderByDescending(r => double.TryParse(r[rankBy], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : 0)
            .Where(r => seen.Add(text(r))).Take(count).ToList();
    }

    private static double Number(Dictionary<string, string> row, string column, string path) =>
        double.TryParse(row[column], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v : throw new InvalidDataException($"{path}: {column} '{row[column]}' of '{row.GetValueOrDefault("name")}' is not a number");

    private static int? Year(string date) => date.Length >= 4 && int.TryParse(date.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var y) ? y : null;

    private static SpaceTimeSet Write(string folder, string file, string source, string value, IEnumerable<(string Text, double Value)> items)
    {
        var lines = items.Select(i => JsonSerializer.Serialize(new { text = i.Text, value = i.Value })).ToList();
        File.WriteAllLines(Path.Combine(folder, file), lines);
        return new SpaceTimeSet(file, Path.GetFileName(source), value, lines.Count);
    }

    /// <summary>Rows of a CSV file with a header line (RFC 4180 quoting, no line breaks inside fields), as column → text.</summary>
    public static IEnumerable<Dictionary<string, string>> ReadCsv(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found", path);
        using var reader = new StreamReader(path);
        var header = Fields(reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty"));
        int line = 1;
        for (string? text; (text = reader.ReadLine()) is not null;)
        {
            line++;
            if (text.Length == 0) continue;
            var fields = Fields(text);
            if (fields.Count != header.Count) throw new InvalidDataException($"{path}:{line}: {fields.Count} fields, the header has {header.Count}");
            yield return header.Select((h, i) => (h, fields[i])).ToDictionary(p => p.h, p => p.Item2, StringComparer.Ordinal);
        }
    }

    private static List<string> Fields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch != '"') field.Append(ch);
                else if (i + 1 < line.Length && line[i + 1] == '"') field.Append(line[++i]);
                else quoted = false;
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else field.Append(ch);
        }
        fields.Add(field.ToString());
        return fields;
    }
}

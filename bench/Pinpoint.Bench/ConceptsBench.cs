using System.Text.Json;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Models.Loading;

namespace Pinpoint.Bench;

/// <summary>
/// The README's concept findings for the embedded model: probes and concept analyses on evals/concepts/nouns.jsonl
/// and on presidents vs actors/actresses vs writers built from ../shared/concepts/wordnet_people_years.json (at most
/// 60 per class in file order; names alone for the probe, "NAME was a famous" for the concept analysis, whose causal
/// test reads " president" / " actor" / " writer").
/// </summary>
public static class ConceptsBench
{
    private const int PerClass = 60;

    public static int Run(bool json)
    {
        var root = BenchPaths.RepoRoot();
        var people = BenchPaths.SharedFile("concepts/wordnet_people_years.json", "the presidents/actors/writers set");
        var dir = Directory.CreateTempSubdirectory("pinpoint-bench-concepts-").FullName;
        try
        {
            var (names, famous) = WritePeople(people, dir);
            var nouns = Path.Combine(root, "evals", "concepts", "nouns.jsonl");
            using var loaded = ModelLoader.Load(Path.Combine(root, "models", "default"));
            var hooks = HookSelection.ResidualStream(loaded.Model.Config);
            var results = new Dictionary<string, object>
            {
                ["nouns_probe_logistic"] = Prober.Run(loaded, ProbeDataset.Read(nouns, 5), hooks, new ProbeOptions()),
                ["nouns_probe_ridge"] = Prober.Run(loaded, ProbeDataset.Read(nouns, 5), hooks, new ProbeOptions { Method = ProbeMethod.Ridge }),
                ["people_probe_logistic"] = Prober.Run(loaded, ProbeDataset.Read(names, 5), hooks, new ProbeOptions()),
                ["nouns_concepts"] = ConceptAnalysis.Run(loaded, ProbeDataset.Read(nouns, 5), new ConceptOptions()),
                ["people_concepts"] = ConceptAnalysis.Run(loaded, ProbeDataset.Read(famous, 5), new ConceptOptions()),
            };
            var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = !json,
                NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
            Console.WriteLine(JsonSerializer.Serialize(results, options));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (string Names, string Famous) WritePeople(string path, string dir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var byClass = new Dictionary<string, List<string>> { ["president"] = [], ["actor"] = [], ["writer"] = [] };
        foreach (var person in doc.RootElement.EnumerateArray())
        {
            var kinds = person.GetProperty("instance_of").EnumerateArray().Select(k => k.GetString()).ToList();
            string? label = kinds.Contains("President of the United States") ? "president"
                : kinds.Contains("actor") || kinds.Contains("actress") ? "actor"
                : kinds.Contains("writer") ? "writer" : null;
            if (label is null || byClass[label].Count >= PerClass) continue;
            var full = person.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!).FirstOrDefault(a => !a.StartsWith("President", StringComparison.Ordinal))
                ?? person.GetProperty("name").GetString()!;
            byClass[label].Add(full);
        }
        string names = Path.Combine(dir, "people-names.jsonl"), famous = Path.Combine(dir, "people-famous.jsonl");
        var items = byClass.SelectMany(p => p.Value.Select(n => (Name: n, Label: p.Key))).ToList();
        File.WriteAllLines(names, items.Select(i => JsonSerializer.Serialize(new { text = i.Name, label = i.Label })));
        File.WriteAllLines(famous, items.Select(i => JsonSerializer.Serialize(new { text = $"{i.Name} was a famous", label = i.Label })));
        return (names, famous);
    }
}

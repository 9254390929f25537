using System.Text.Json;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// The JSON contract of <c>explain --json</c> (single and dataset) against golden files: every field path in the
/// order written. A change to the contract shows here as a diff of the golden file, on purpose or not.
/// </summary>
public class ReportJsonContractTests
{
    private static string GoldenPath(string name) => Path.Combine(AppContext.BaseDirectory, "Explain", "Golden", name);

    /// <summary>"a.b[].c" for every value, each path once, in the order the JSON first holds it.</summary>
    public static List<string> Paths(JsonElement element)
    {
        var paths = new List<string>();
        void Walk(JsonElement e, string path)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject()) Walk(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}");
                    break;
                case JsonValueKind.Array:
                    if (!paths.Contains(path + "[]")) paths.Add(path + "[]");
                    foreach (var item in e.EnumerateArray()) Walk(item, path + "[]");
                    break;
                default:
                    if (!paths.Contains(path)) paths.Add(path);
                    break;
            }
        }
        Walk(element, "");
        return paths;
    }

    /// <summary>
    /// Every path the golden file lists is written, and nothing else; a line ending in "?" is a field that is left out
    /// when null (it appears only where some row has a value). Top-level fields come in the golden order.
    /// </summary>
    private static void AssertGolden(string file, object report)
    {
        var actual = Paths(JsonDocument.Parse(ReportJson.Serialize(report)).RootElement);
        var lines = File.ReadAllLines(GoldenPath(file)).Where(l => l.Length > 0).ToList();
        var required = lines.Where(l => !l.EndsWith('?')).ToList();
        var optional = lines.Where(l => l.EndsWith('?')).Select(l => l[..^1]).ToHashSet();
        string message = $"{file} differs; the JSON now has:\n{string.Join("\n", actual)}";
        Assert.True(required.All(actual.Contains) && actual.All(p => required.Contains(p) || optional.Contains(p)), message);
        static bool TopLevel(string path) => !path.Contains('.') && !path.Contains('[');
        Assert.True(required.Where(TopLevel).SequenceEqual(actual.Where(p => TopLevel(p) && !optional.Contains(p))), message);
    }

    [Fact]
    public void SingleExplainJsonMatchesTheGoldenContract() => AssertGolden("explain.paths.txt", NastyTokenReport.Report);

    [Fact]
    public void DatasetExplainJsonMatchesTheGoldenContract() => AssertGolden("explain-dataset.paths.txt", NastyTokenReport.DatasetReport with { Dataset = "nasty.jsonl" });

    [Fact]
    public void OptionalSectionsAreLeftOutWhenNull()
    {
        var json = JsonDocument.Parse(ReportJson.Serialize(NastyTokenReport.Report)).RootElement;
        Assert.False(json.TryGetProperty("html", out _));
        var withHtml = JsonDocument.Parse(ReportJson.Serialize(NastyTokenReport.Report with { Html = "/tmp/r.html" })).RootElement;
        Assert.Equal("/tmp/r.html", withHtml.EnumerateObject().Last().Value.GetString());
    }

    [Fact]
    public void ComponentsAreWrittenAndReadByName()
    {
        foreach (var c in new[] { new Component(ComponentKind.Head, 3, 2), new Component(ComponentKind.Mlp, 1, 0), new Component(ComponentKind.Neuron, 0, 17),
                     new Component(ComponentKind.Embedding, 0, 0), new Component(ComponentKind.PositionEmbedding, 0, 0), new Component(ComponentKind.AttentionBias, 2, 0) })
        {
            string json = ReportJson.Serialize(c);
            Assert.Equal($"\"{c.Name}\"", json);
            Assert.Equal(c, JsonSerializer.Deserialize<Component>(json, ReportJson.Options));
        }
        Assert.Throws<ArgumentException>(() => Component.Parse("L1X2"));
    }
}

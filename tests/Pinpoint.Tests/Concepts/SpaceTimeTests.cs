using System.Text.Json;
using Pinpoint.Interpretability.Concepts;
using CliRunner = Pinpoint.Tests.Cli.Cli;

namespace Pinpoint.Tests.Concepts;

public sealed class SpaceTimeTests
{
    [Fact]
    public void ProximityErrorHasItsClosedForms()
    {
        double[] targets = [0, 1, 2, 3];
        Assert.Equal(0, Prober.ProximityError(targets, targets));
        // Every other item lies closer to each true value than a prediction 100 away.
        Assert.Equal(1, Prober.ProximityError(targets.Select(t => t + 100).ToArray(), targets));
        // Only item 0 misses (by 1.5): item 1 lies within that, items 2 and 3 do not → (1/3) / 4.
        Assert.Equal(1.0 / 12, Prober.ProximityError([1.5, 1, 2, 3], targets), 12);
    }

    [Fact]
    public void ValueProbesReportTheShuffledControlAndProximityError()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("pinpoint-space-time-").FullName, "years.jsonl");
        string[] names = ["Lincoln", "Washington", "Jefferson", "Adams", "Madison", "Monroe", "Jackson", "Grant", "Wilson", "Kennedy", "Nixon", "Carter"];
        File.WriteAllLines(path, names.Select((n, i) => JsonSerializer.Serialize(new { text = n, value = 1700 + 20 * i })));
        var json = CliRunner.Run("probe", "--dataset", path, "--hooks", "hook_embed,blocks.3.hook_resid_post", "--permutations", "2", "--folds", "3",
            "--save", Path.ChangeExtension(path, ".safetensors"), "--json").Json();
        foreach (var layer in json.GetProperty("layers").EnumerateArray())
        {
            Assert.InRange(layer.GetProperty("proximity_error").GetDouble(), 0, 1);
            Assert.True(layer.TryGetProperty("control_r2", out _) && layer.TryGetProperty("r2", out _));
            Assert.False(layer.TryGetProperty("control_accuracy", out _));
        }
    }

    [Fact]
    public void TheBuilderMakesValueSetsFromTheSharedEntityTablesAndTheCommittedSetsAreItsOutput()
    {
        var concepts = Path.GetDirectoryName(SharedData.Require("concepts/world_models/world_place.csv"))!;
        var folder = Directory.CreateTempSubdirectory("pinpoint-space-time-").FullName;
        var sets = SpaceTimeDatasets.Build(Path.GetDirectoryName(concepts)!, folder, SpaceTimeDatasets.DefaultPerSet);
        Assert.Equal(6, sets.Count);
        foreach (var set in sets)
        {
            var dataset = ProbeDataset.Read(Path.Combine(folder, set.File), 5);
            Assert.True(dataset.IsRegression);
            Assert.Equal(set.Items, dataset.Items.Count);
            Assert.InRange(set.Items, 200, SpaceTimeDatasets.DefaultPerSet);
            Assert.Equal(dataset.Items.Count, dataset.Texts.Distinct().Count());
            var (low, high) = set.Value switch { "latitude" => (-90.0, 90.0), "longitude" => (-180.0, 180.0), _ => (-3000.0, 2030.0) };
            Assert.All(dataset.Values, v => Assert.InRange(v, low, high));
            Assert.Equal(File.ReadAllText(Path.Combine(folder, set.File)), File.ReadAllText(Path.Combine(SharedData.RepoRoot, "evals", "concepts", set.File)));
        }
    }
}

namespace Pinpoint.Tests.Cli;

public sealed class ProbeCommandTests
{
    private static string Nouns => Path.Combine(SharedData.RepoRoot, "evals", "concepts", "nouns.jsonl");

    [Fact]
    public void JsonHasTheDocumentedShapeAndTheProbeFileIsWritten()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-probe-cli-").FullName;
        var save = Path.Combine(dir, "nouns.safetensors");
        var html = Path.Combine(dir, "probe.html");
        var json = Cli.Run("probe", "--dataset", Nouns, "--method", "mass-mean", "--permutations", "4", "--hooks", "hook_embed,blocks.3.hook_resid_post",
            "--save", save, "--html", html, "--json").Json();
        Assert.Equal(160, json.GetProperty("items").GetInt32());
        Assert.Equal("mass-mean", json.GetProperty("method").GetString());
        Assert.Equal(["animal", "food", "clothing", "vehicle"], json.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        var layers = json.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(["hook_embed", "blocks.3.hook_resid_post"], layers.Select(l => l.GetProperty("hook").GetString()));
        foreach (var l in layers)
        {
            var acc = l.GetProperty("accuracy");
            Assert.InRange(acc.GetProperty("mean").GetDouble(), 0.25, 1);
            Assert.True(acc.GetProperty("ci95").GetDouble() > 0);
            Assert.Equal(0.25, l.GetProperty("baseline").GetDouble(), 2);
            Assert.True(l.TryGetProperty("control_accuracy", out _) && l.TryGetProperty("selectivity", out _) && l.TryGetProperty("p_value", out _));
            Assert.False(l.TryGetProperty("r2", out _));
        }
        Assert.Equal(save, json.GetProperty("probe_file").GetString());
        Assert.True(File.Exists(save) && File.Exists(html));
        Assert.Contains(json.GetProperty("best").GetProperty("hook").GetString(), layers.Select(l => l.GetProperty("hook").GetString()));
    }

    [Fact]
    public void BadInputIsAOneLineErrorWithTheRightExitCode()
    {
        Cli.Run("probe", "--dataset", Nouns, "--hooks", "blocks.*.hook_nope").AssertFailed(1, "blocks.*.hook_resid_post");
        Cli.Run("probe", "--dataset", Nouns, "--method", "svm").AssertFailed(2, "--method must be");
        var values = Path.Combine(Directory.CreateTempSubdirectory("pinpoint-probe-cli-").FullName, "v.jsonl");
        File.WriteAllLines(values, Enumerable.Range(0, 6).Select(i => $"{{\"text\":\"x{i}\",\"value\":{i}}}"));
        Cli.Run("probe", "--dataset", values, "--method", "logistic").AssertFailed(2, "needs class labels");
        Cli.Run("probe", "--dataset", "/nonexistent/d.jsonl").AssertFailed(1, "/nonexistent/d.jsonl");
    }
}

public sealed class ConceptsCommandTests
{
    private static string Nouns => Path.Combine(SharedData.RepoRoot, "evals", "concepts", "nouns.jsonl");

    [Fact]
    public void UsageAndInputErrorsComeBeforeAnyModelWork()
    {
        Cli.Run("concepts", "--dataset", Nouns, "--class-words", "animal=beast,planet=mars").AssertFailed(2, "planet=mars");
        var values = Path.Combine(Directory.CreateTempSubdirectory("pinpoint-concepts-cli-").FullName, "v.jsonl");
        File.WriteAllLines(values, Enumerable.Range(0, 6).Select(i => $"{{\"text\":\"x{i}\",\"value\":{i}}}"));
        Cli.Run("concepts", "--dataset", values).AssertFailed(2, "needs class labels");
        Cli.Run("concepts", "--dataset", Nouns, "--html", "/nonexistent-folder/r.html").AssertFailed(1, "/nonexistent-folder");
    }

    [Fact]
    public void HelpShowsTheJsonShapeWithoutInternalFields()
    {
        var help = Cli.Run("probe", "--help");
        Assert.Contains("\"control_accuracy?\":number", help.Out);
        Assert.DoesNotContain("fitted", help.Out);
        Assert.Contains("\"ablation\":{", Cli.Run("concepts", "--help").Out);
    }
}

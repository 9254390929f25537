using System.Text.Json;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Models.Loading;
using Pinpoint.Tests.Dynamics;
using CliRunner = Pinpoint.Tests.Cli.Cli;

namespace Pinpoint.Tests.Concepts;

/// <summary>probe and concepts over the checkpoints of a tiny run (steps 1, 2, 4, 8, 12; see <see cref="TinyRun"/>).</summary>
public sealed class AcrossTrainingTests(TinyRun run) : IClassFixture<TinyRun>
{
    private static readonly int[] Steps = [1, 2, 4, 8, 12];

    private string Dataset()
    {
        var path = Path.Combine(run.Folder, "kin.jsonl");
        string[] men = ["king", "duke", "lord", "prince", "father", "son"], women = ["queen", "lady", "mother", "daughter", "wife", "sister"];
        File.WriteAllLines(path, men.Select(w => (w, "man")).Concat(women.Select(w => (w, "woman")))
            .Select(p => JsonSerializer.Serialize(new { text = $"I saw the {p.w}", label = p.Item2 })));
        return path;
    }

    [Fact]
    public void EveryCheckpointGetsTheReportItsModelGivesAlone()
    {
        var dataset = ProbeDataset.Read(Dataset(), 3);
        var options = new ProbeOptions { Method = ProbeMethod.MassMean, Folds = 3, Permutations = 3 };
        var sweep = AcrossTraining.Probe(run.Folder, dataset, "hook_embed,blocks.1.hook_resid_post", options, cancellation: TestContext.Current.CancellationToken);

        Assert.Equal(Steps, sweep.Checkpoints.Select(c => c.Step));
        Assert.Equal(Steps.Select(s => s * 4L * 32), sweep.Checkpoints.Select(c => c.Tokens));
        var last = Directory.GetDirectories(Path.Combine(run.Folder, "checkpoints")).Order(StringComparer.Ordinal).Last();
        using var loaded = ModelLoader.Load(last);
        var alone = Prober.Run(loaded, dataset, ["hook_embed", "blocks.1.hook_resid_post"], options, cancellation: TestContext.Current.CancellationToken);
        var swept = sweep.Checkpoints[^1].Report;
        Assert.Equal(alone.Layers.Select(l => l.Accuracy!.Value.Mean), swept.Layers.Select(l => l.Accuracy!.Value.Mean));
        Assert.Equal(alone.Layers.Select(l => l.ControlAccuracy), swept.Layers.Select(l => l.ControlAccuracy));
    }

    [Fact]
    public void ProbeAndConceptsTakeCheckpointsOnTheCommandLine()
    {
        var dataset = Dataset();
        var html = Path.Combine(run.Folder, "probe-steps.html");
        var probe = CliRunner.Run("probe", "--checkpoints", run.Folder, "--dataset", dataset, "--method", "mass-mean", "--folds", "3", "--permutations", "2",
            "--html", html, "--json").Json();
        Assert.Equal(run.Folder, probe.GetProperty("run").GetString());
        var checkpoints = probe.GetProperty("checkpoints").EnumerateArray().ToList();
        Assert.Equal(Steps, checkpoints.Select(c => c.GetProperty("step").GetInt32()));
        Assert.All(checkpoints, c => Assert.Equal(3, c.GetProperty("report").GetProperty("layers").GetArrayLength())); // hook_embed + 2 blocks
        Assert.True(File.Exists(html));

        var concepts = CliRunner.Run("concepts", "--checkpoints", run.Folder, "--dataset", dataset, "--folds", "3", "--shuffles", "2", "--json").Json();
        var steps = concepts.GetProperty("checkpoints").EnumerateArray().ToList();
        Assert.Equal(Steps, steps.Select(c => c.GetProperty("step").GetInt32()));
        Assert.All(steps, c => Assert.Equal(2, c.GetProperty("report").GetProperty("per_class").GetArrayLength()));

        CliRunner.Run("probe", "--checkpoints", run.Folder, "--model", run.Folder, "--dataset", dataset).AssertFailed(2, "--checkpoints");
        CliRunner.Run("probe", "--checkpoints", Path.Combine(run.Folder, "nope"), "--dataset", dataset).AssertFailed(1, "nope");
    }
}

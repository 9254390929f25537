using System.Text.Json;
using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Training;

namespace Pinpoint.Tests.Dynamics;

/// <summary>A tiny run trained once (checkpoints at steps 1, 2, 4, 8 and 12), shared by the end-to-end tests.</summary>
public sealed class TinyRun : IDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "pinpoint-dynamics-" + Guid.NewGuid().ToString("N"));
    public string Dataset => Path.Combine(Folder, "dataset.jsonl");
    /// <summary>The trained model's induction and previous-token scores, measured in process at the end of training.</summary>
    public TrainingDynamics.Scores FinalScores { get; }

    public TinyRun()
    {
        var config = new TrainConfig
        {
            Architecture = "gpt2", DModel = 32, NLayers = 2, NHeads = 2, Context = 32, VocabSize = 300,
            BatchSize = 4, Steps = 12, LearningRate = 3e-3f, MinLearningRate = 3e-4f, WarmupSteps = 3,
            EvalEvery = 4, EvalBatches = 2, CheckpointEvery = 0, Corpus = [SharedData.Require("corpus/tinyshakespeare.txt")],
            Metrics = [TrainingDynamics.InductionMetric, TrainingDynamics.PreviousTokenMetric],
        };
        using var trainer = Trainer.Open(config, Folder, resume: false);
        trainer.Run(cancel: TestContext.Current.CancellationToken);
        FinalScores = TrainingDynamics.RepeatedSequenceScores(trainer.Model, TrainingDynamics.ProbeSeed);
        File.WriteAllLines(Dataset,
        [
            """{"prompt":"ROMEO: I","target":" am","foil":" the"}""",
            """{"prompt":"My lord, I","target":" will","foil":" and"}""",
            """{"prompt":"KING: My","target":" lord","foil":" the"}""",
        ]);
    }

    public void Dispose()
    {
        if (Directory.Exists(Folder)) Directory.Delete(Folder, recursive: true);
    }
}

public class DynamicsRunTests(TinyRun run) : IClassFixture<TinyRun>
{
    private static readonly int[] CheckpointSteps = [1, 2, 4, 8, 12];

    [Fact]
    public void EveryCheckpointIsMeasuredWithTheTrainingProbeAndTheRecordedLoss()
    {
        var items = EvalDataset.ReadScoreItems(run.Dataset);
        var report = DynamicsAnalysis.Run(run.Folder, new DynamicsOptions(items, Top: 3, VerifyAt: []), cancel: TestContext.Current.CancellationToken);

        Assert.Equal(CheckpointSteps, report.Checkpoints.Select(c => c.Step));
        Assert.Equal(CheckpointSteps.Select(s => s * 4L * 32), report.Checkpoints.Select(c => c.Tokens));
        var recorded = File.ReadLines(Path.Combine(run.Folder, Trainer.MetricsFile))
            .Select(l => JsonSerializer.Deserialize<MetricsRecord>(l, Trainer.MetricsJson)!).ToDictionary(r => r.Step);
        foreach (var c in report.Checkpoints)
        {
            Assert.Equal(recorded[c.Step].ValLoss!.Value, c.ValLoss!.Value, 12);
            // The checkpoint reloaded from disk gives the scores the trainer's probe recorded at that step.
            Assert.Equal(recorded[c.Step].Dynamics!["induction_score"], c.Induction, 4);
            Assert.Equal(recorded[c.Step].Dynamics!["prev_token_score"], c.PrevToken, 4);
            Assert.Equal(3, c.TopComponents.Count);
            Assert.True(c.DatasetAccuracy is >= 0 and <= 1);
        }
        Assert.Equal(run.FinalScores.Induction.Max(), report.Checkpoints[^1].Induction, 4);

        // Formation covers exactly the final top set, each formed at one of the checkpoint steps (or never, when its final effect is 0).
        Assert.Equal(report.Checkpoints[^1].TopComponents.Select(c => c.Component), report.Formation.Select(f => f.Component));
        Assert.All(report.Formation, f => Assert.True(f.StepHalf is null || CheckpointSteps.Contains(f.StepHalf.Value)));
        Assert.Equal(report.Checkpoints[^1].TopComponents.Select(c => c.Effect), report.Formation.Select(f => f.FinalEffect));
        Assert.Contains(report.PhaseChanges, p => p.Metric == "val_loss" && p.Size < 0);
        if (report.EarlyStep is { } early)
        {
            Assert.Contains(early, CheckpointSteps);
            Assert.InRange(report.EarlyOverlap!.Value, 0, 1);
        }
        else Assert.True(report.Checkpoints[^1].LogitDiff <= 0, "no early step although the last checkpoint prefers the targets");
    }

    [Fact]
    public void JsonHasTheDocumentedShape()
    {
        var json = JsonDocument.Parse(ReportJson.Serialize(DynamicsAnalysis.Run(run.Folder, new DynamicsOptions(EvalDataset.ReadScoreItems(run.Dataset), Top: 2, VerifyAt: []), cancel: TestContext.Current.CancellationToken))).RootElement;
        var first = json.GetProperty("checkpoints")[0];
        foreach (var name in new[] { "step", "tokens", "val_loss", "induction", "prev_token", "dataset_accuracy", "top_components" })
            Assert.True(first.TryGetProperty(name, out _), name);
        Assert.Equal(2, first.GetProperty("top_components").GetArrayLength());
        Assert.True(first.GetProperty("top_components")[0].TryGetProperty("effect", out _));
        Assert.True(json.GetProperty("phase_changes")[0].TryGetProperty("size", out _));
        Assert.True(json.GetProperty("formation")[0].TryGetProperty("step_half", out _));
    }

    private static void SetJson(string path, string key, int value)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        node[key] = value;
        File.WriteAllText(path, node.ToJsonString());
    }

    /// <summary>
    /// A folder joining a corpus run with a synthetic-data stage (as v2's lineage does): the stage's validation loss was
    /// measured on repeated random tokens, so it is left out, with a warning naming its steps.
    /// </summary>
    [Fact]
    public void ValidationLossesMeasuredOnOtherDataThanTheFinalCheckpointsAreLeftOut()
    {
        string folder = Path.Combine(Path.GetTempPath(), "pinpoint-dynamics-stages-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var step in new[] { 4, 8, 12 })
            {
                var from = Path.Combine(run.Folder, Trainer.CheckpointsFolder, $"step-{step:D7}");
                var dir = Directory.CreateDirectory(Path.Combine(folder, Path.GetFileName(from))).FullName;
                foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
                Assert.Equal(TrainConfig.CorpusData, TrainingState.Load(dir).ValidationData);
            }
            var synthetic = Path.Combine(folder, "step-0000008", TrainingState.FileName);
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(synthetic))!;
            node["validation_data"] = TrainConfig.RepeatedRandomTokensData;
            File.WriteAllText(synthetic, node.ToJsonString());

            var warnings = new List<string>();
            var report = DynamicsAnalysis.Run(folder, warn: warnings.Add, cancel: TestContext.Current.CancellationToken);
            Assert.Equal([4, 8, 12], report.Checkpoints.Select(c => c.Step));
            Assert.NotNull(report.Checkpoints[0].ValLoss);
            Assert.Null(report.Checkpoints[1].ValLoss);
            Assert.NotNull(report.Checkpoints[2].ValLoss);
            Assert.Equal("validation loss left out at steps 8: measured on repeated_random_tokens, the final checkpoint's on corpus", Assert.Single(warnings));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void IncompleteCheckpointsAreSkippedAndMixedShapesOrTokenizersRefused()
    {
        string folder = Path.Combine(Path.GetTempPath(), "pinpoint-dynamics-mixed-" + Guid.NewGuid().ToString("N"));
        try
        {
            var source = Path.Combine(run.Folder, Trainer.CheckpointsFolder);
            string Copy(string from, string to, int step)
            {
                var dir = Path.Combine(folder, to);
                Directory.CreateDirectory(dir);
                foreach (var f in Directory.GetFiles(Path.Combine(source, from))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
                var state = Path.Combine(dir, TrainingState.FileName);
                SetJson(state, "step", step);
                return dir;
            }
            Copy("step-0000004", "step-0000004", 4);
            Copy("step-0000008", "step-0000008", 8);
            var writing = Copy("step-0000012", "step-0000012", 12);
            File.Delete(Path.Combine(writing, TrainingState.FileName)); // as while the trainer is still writing it
            var warnings = new List<string>();
            var report = DynamicsAnalysis.Run(folder, warn: warnings.Add, cancel: TestContext.Current.CancellationToken);
            Assert.Equal([4, 8], report.Checkpoints.Select(c => c.Step));
            Assert.Contains("step-0000012", Assert.Single(warnings));
            Assert.Empty(report.Formation);

            var otherTokenizer = Copy("step-0000002", "step-0000002", 2);
            File.AppendAllText(Path.Combine(otherTokenizer, "tokenizer.json"), " ");
            var tokenizers = Assert.Throws<InvalidDataException>(() => DynamicsAnalysis.Run(folder, cancel: TestContext.Current.CancellationToken));
            Assert.Contains("step-0000004", tokenizers.Message);
            Assert.Contains("tokenizer", tokenizers.Message);
            Directory.Delete(otherTokenizer, recursive: true);

            var wider = Copy("step-0000001", "step-0000001", 1);
            var configPath = Path.Combine(wider, "config.json");
            SetJson(configPath, "n_layer", 3);
            var shapes = Assert.Throws<InvalidDataException>(() => DynamicsAnalysis.Run(folder, cancel: TestContext.Current.CancellationToken));
            Assert.Contains("step-0000004", shapes.Message);
            Assert.Contains("different shapes", shapes.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void CliPrintsTheTimelineAndRefusesAFolderWithoutCheckpoints()
    {
        var json = Cli.Cli.Run("dynamics", "--run", run.Folder, "--json").Json();
        Assert.Equal(CheckpointSteps.Length, json.GetProperty("checkpoints").GetArrayLength());
        var text = Cli.Cli.Run("dynamics", "--run", run.Folder, "--dataset", run.Dataset, "--top", "2");
        Assert.True(text.Code == 0, text.Err);
        Assert.Contains("phase change: val_loss", text.Out);
        Assert.Contains("formed:", text.Out);

        var empty = Path.Combine(Path.GetTempPath(), "pinpoint-dynamics-empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(empty);
        try
        {
            Cli.Cli.Run("dynamics", "--run", empty).AssertFailed(1, "no complete checkpoints");
            var tooLong = Path.Combine(empty, "long.jsonl");
            File.WriteAllText(tooLong, $$"""{"prompt":"{{string.Concat(Enumerable.Repeat("ROMEO: I will go. ", 8))}}","target":" am","foil":" the"}""" + "\n");
            Cli.Cli.Run("dynamics", "--run", run.Folder, "--dataset", tooLong).AssertFailed(1, "long.jsonl:1: the prompt is");
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}

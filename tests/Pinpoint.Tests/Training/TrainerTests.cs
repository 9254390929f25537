using System.Text.Json;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Training;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Training;

public class TrainerTests
{
    internal static TrainConfig TinyCorpusConfig(string corpus) => new()
    {
        Architecture = "gpt2", DModel = 32, NLayers = 2, NHeads = 2, Context = 32, VocabSize = 300,
        BatchSize = 4, Steps = 12, LearningRate = 3e-3f, MinLearningRate = 3e-4f, WarmupSteps = 3,
        EvalEvery = 4, EvalBatches = 2, CheckpointEvery = 0, Corpus = [corpus], Metrics = [],
    };

    internal static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pinpoint-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static List<double> Losses(string run) => File.ReadLines(Path.Combine(run, Trainer.MetricsFile))
        .Select(l => JsonSerializer.Deserialize<MetricsRecord>(l, Trainer.MetricsJson)!.TrainLoss!.Value).ToList();

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void KilledAndResumedRunMatchesUninterruptedRun(string architecture)
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var config = TinyCorpusConfig(corpus) with { Architecture = architecture };
        string straight = TempDir(), resumed = TempDir();
        using (var t = Trainer.Open(config, straight, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);

        // Stop after step 8 (a log-spaced checkpoint), as a killed process would, then resume.
        using (var cancel = new CancellationTokenSource())
        using (var t = Trainer.Open(config, resumed, resume: false))
            t.Run(r => { if (r.Step == 8) cancel.Cancel(); }, cancel.Token);
        // Rewind the metrics log past the checkpoint to show resume truncates it.
        File.AppendAllText(Path.Combine(resumed, Trainer.MetricsFile), "{\"step\":9,\"tokens\":0,\"train_loss\":99}\n");
        using (var t = Trainer.Open(config, resumed, resume: true))
        {
            Assert.Equal(8, t.Step);
            t.Run(cancel: TestContext.Current.CancellationToken);
        }

        Assert.Equal(Losses(straight), Losses(resumed));
        var a = File.ReadAllBytes(Path.Combine(straight, "checkpoints", "step-0000012", "model.safetensors"));
        var b = File.ReadAllBytes(Path.Combine(resumed, "checkpoints", "step-0000012", "model.safetensors"));
        Assert.Equal(a, b);
        Assert.True(Losses(straight)[^1] < Losses(straight)[0], "loss did not decrease");
        Assert.True(File.Exists(Path.Combine(straight, "loss.svg")));
    }

    /// <summary>A tiny Llama run of <paramref name="steps"/> steps: its recipe, folder and last checkpoint.</summary>
    private static (TrainConfig Config, string Run, string LastCheckpoint) TrainedLlama(int steps)
    {
        var config = TinyCorpusConfig(SharedData.Require("corpus/tinyshakespeare.txt")) with { Architecture = "llama", Steps = steps, WarmupSteps = 1 };
        var run = TempDir();
        using (var t = Trainer.Open(config, run, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        return (config, run, Path.Combine(run, Trainer.CheckpointsFolder, $"step-{steps:D7}"));
    }

    /// <summary>
    /// --init: a new run starts from a checkpoint's weights and moments with its own schedule; steps, tokens and
    /// checkpoint names continue from the checkpoint's, and the continuation itself resumes exactly.
    /// </summary>
    [Fact]
    public void RunFromACheckpointContinuesItsStepsWithItsOwnSchedule()
    {
        var (config, first, init) = TrainedLlama(steps: 8);
        var next = config with { Init = init, Steps = 4, WarmupSteps = 2, LearningRate = 2e-3f, RepeatFraction = 0.25, RepeatSpan = [4, 8] };

        string straight = TempDir(), resumed = TempDir();
        using (var t = Trainer.Open(next, straight, resume: false))
        {
            Assert.Equal((0, 8), (t.Step, t.StartStep));
            using var loaded = ModelLoader.Load(init);
            Assert.Equal(loaded.Model.Weights.Embedding.Span.ToArray(), t.Model.Weights.Embedding.Span.ToArray());
            t.Run(cancel: TestContext.Current.CancellationToken);
        }
        var records = File.ReadLines(Path.Combine(straight, Trainer.MetricsFile)).Select(l => JsonSerializer.Deserialize<MetricsRecord>(l, Trainer.MetricsJson)!).ToList();
        long tokensPerStep = config.BatchSize * config.Context;
        Assert.Equal([9, 10, 11, 12], records.Select(r => r.Step));
        Assert.Equal(9 * tokensPerStep, records[0].Tokens);
        Assert.All(records, r => Assert.Equal((8, 8 * tokensPerStep), (r.StartStep, r.StartTokens)));
        // The new recipe's warm-up: half its peak at its own first step.
        Assert.Equal(next.LearningRateAt(1), records[0].LearningRate!.Value, 1e-9);
        Assert.Equal(1e-3, records[0].LearningRate!.Value, 1e-9);
        var checkpoints = Directory.GetDirectories(Path.Combine(straight, Trainer.CheckpointsFolder)).Select(Path.GetFileName).Order();
        Assert.Equal(["step-0000009", "step-0000010", "step-0000012"], checkpoints);
        var state = TrainingState.Load(Path.Combine(straight, Trainer.CheckpointsFolder, "step-0000012"));
        Assert.Equal((12, 12 * tokensPerStep, 8, 8 * tokensPerStep, Path.GetFullPath(init)), (state.Step, state.TokensSeen, state.StartStep, state.StartTokens, state.InitFrom));
        // The first run's metrics are not the continuation's.
        Assert.DoesNotContain(File.ReadLines(Path.Combine(first, Trainer.MetricsFile)), l => l.Contains("start_step"));

        using (var cancel = new CancellationTokenSource())
        using (var t = Trainer.Open(next, resumed, resume: false))
            t.Run(r => { if (r.Step == 10) cancel.Cancel(); }, cancel.Token);
        using (var t = Trainer.Open(next, resumed, resume: true))
        {
            Assert.Equal((2, 8), (t.Step, t.StartStep));
            t.Run(cancel: TestContext.Current.CancellationToken);
        }
        Assert.Equal(Losses(straight), Losses(resumed));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, Trainer.CheckpointsFolder, "step-0000012", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(resumed, Trainer.CheckpointsFolder, "step-0000012", "model.safetensors")));
    }

    [Fact]
    public void InitRefusesACheckpointOfAnotherShapeOrTokenizerBeforeWritingAnything()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var first = TempDir();
        var config = TinyCorpusConfig(corpus) with { Steps = 2, WarmupSteps = 1 };
        using (var t = Trainer.Open(config, first, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        var init = Path.Combine(first, Trainer.CheckpointsFolder, "step-0000002");
        var otherTokenizer = Path.Combine(TempDir(), "tokenizer.json");
        File.WriteAllText(otherTokenizer, File.ReadAllText(Path.Combine(init, "tokenizer.json")).Replace("\"<|endoftext|>\"", "\"<|end|>\""));
        var incomplete = Directory.CreateDirectory(Path.Combine(TempDir(), "step-0000002")).FullName;
        foreach (var file in Directory.GetFiles(init).Where(f => !f.EndsWith("optimizer.safetensors", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(incomplete, Path.GetFileName(file)));

        foreach (var (recipe, message) in new (TrainConfig, string)[]
        {
            (config with { Init = init, DModel = 64 }, "a gpt2 d32×2 layers, 2 heads, d_mlp 128, vocab 300, context 32 model, but the recipe trains a gpt2 d64×2"),
            (config with { Init = init, Context = 64 }, "context 64 model"),
            (config with { Init = init, Tokenizer = otherTokenizer }, $"its tokenizer differs from the recipe's {otherTokenizer}"),
            (config with { Init = init, Architecture = "llama" }, "checkpoint is a 'gpt2' model, the recipe trains 'llama'"),
            (config with { Init = incomplete }, "not a complete training checkpoint (no optimizer.safetensors)"),
        })
        {
            var outDir = Path.Combine(TempDir(), "run");
            var e = Assert.Throws<InvalidDataException>(() => Trainer.Open(recipe, outDir, resume: false));
            Assert.Contains(message, e.Message);
            Assert.StartsWith(recipe.Init!, e.Message);
            Assert.False(Directory.Exists(outDir), "nothing is written for a refused checkpoint");
        }
        // The recipe's own tokenizer, byte for byte the checkpoint's, is accepted.
        using var accepted = Trainer.Open(config with { Init = init, Tokenizer = Path.Combine(init, "tokenizer.json") }, Path.Combine(TempDir(), "run"), resume: false);
        Assert.Equal(2, accepted.StartStep);
    }

    /// <summary>--init from an exported model (no trainer state, no moments): its weights, step 0, fresh moments.</summary>
    [Fact]
    public void AnExportedModelStartsARunAtStepZeroWithItsWeights()
    {
        var (config, _, checkpoint) = TrainedLlama(steps: 4);
        var export = Directory.CreateDirectory(Path.Combine(TempDir(), "exported")).FullName;
        foreach (var file in Directory.GetFiles(checkpoint).Where(f => Path.GetFileName(f) is not (TrainingState.FileName or "optimizer.safetensors")))
            File.Copy(file, Path.Combine(export, Path.GetFileName(file)));

        var run = TempDir();
        using (var t = Trainer.Open(config with { Init = export, Steps = 2 }, run, resume: false))
        {
            Assert.Equal((0, 0), (t.Step, t.StartStep));
            using var loaded = ModelLoader.Load(checkpoint);
            Assert.Equal(loaded.Model.Weights.Embedding.Span.ToArray(), t.Model.Weights.Embedding.Span.ToArray());
            t.Run(cancel: TestContext.Current.CancellationToken);
        }
        var state = TrainingState.Load(Path.Combine(run, Trainer.CheckpointsFolder, "step-0000002"));
        Assert.Equal((2, 0, export), (state.Step, state.StartStep, state.InitFrom));
        // Fresh moments: the first update is AdamW's first step, unlike a continuation of the checkpoint's moments.
        var fromCheckpoint = TempDir();
        using (var t = Trainer.Open(config with { Init = checkpoint, Steps = 2 }, fromCheckpoint, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        Assert.NotEqual(Losses(fromCheckpoint)[1], Losses(run)[1]);

        var notAModel = Directory.CreateDirectory(Path.Combine(TempDir(), "half")).FullName;
        File.Copy(Path.Combine(export, "config.json"), Path.Combine(notAModel, "config.json"));
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Open(config with { Init = notAModel }, Path.Combine(TempDir(), "run"), resume: false));
        Assert.StartsWith($"{notAModel}: not a model folder (no model.safetensors)", e.Message);
    }

    /// <summary>focus_loss_weight: the first step's loss is the mean with the focus positions weighted, on the step's own batch.</summary>
    [Fact]
    public void FocusLossWeightWeighsThePositionsWhoseNextTokenIsAFocusToken()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var config = TinyCorpusConfig(corpus) with { Steps = 1, WarmupSteps = 1, FocusTokens = ["e"], FocusLossWeight = 5 };
        var run = TempDir();
        using var trainer = Trainer.Open(config, run, resume: false);
        using var tokenizer = Pinpoint.Models.Tokenizers.HfTokenizer.Load(Path.Combine(run, "tokenizer.json"));
        int focus = Assert.Single(tokenizer.Encode("e", addBos: false));
        int n = config.BatchSize * config.Context;
        int[] inputs = new int[n], targets = new int[n];
        using (var data = new CorpusTrainingData(TokenDataset.Open(Path.Combine(run, "data", "train.bin")), TokenDataset.Open(Path.Combine(run, "data", "val.bin"))))
            data.FillTrainBatch(config.Seed, 1, 0, config.BatchSize, config.Context, inputs, targets);
        var logits = trainer.Model.Forward(Compute.Eager, new TokenBatch(config.BatchSize, config.Context, inputs));
        var flat = Compute.Eager.Reshape(logits, n, config.VocabSize);
        double weighted = 0, total = 0, plain = 0;
        for (int i = 0; i < n; i++)
        {
            var row = flat.Select(0, i).ToArray();
            double max = row.Max(), loss = max + Math.Log(row.Sum(v => Math.Exp(v - max))) - row[targets[i]];
            double w = targets[i] == focus ? 5 : 1;
            (weighted, total, plain) = (weighted + w * loss, total + w, plain + loss);
        }
        Assert.True(targets.Count(t => t == focus) > 0, "the batch has no focus position");
        trainer.Run(cancel: TestContext.Current.CancellationToken);
        Assert.Equal(weighted / total, Losses(run)[0], 1e-4);
        Assert.True(Math.Abs(weighted / total - plain / n) > 1e-3, "the weighting made no difference to compare");

        var e = Assert.Throws<ArgumentException>(() => (config with { FocusTokens = [] }).Validate());
        Assert.Contains("focus_loss_weight needs focus_tokens", e.Message);
        e = Assert.Throws<ArgumentException>(() => (config with { FocusLossWeight = 0 }).Validate());
        Assert.Contains("focus_loss_weight must be positive and finite, got 0", e.Message);
    }

    [Fact]
    public void FreshRunRefusesFolderWithCheckpoints()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var config = TinyCorpusConfig(corpus) with { Steps = 1, WarmupSteps = 0 };
        var dir = TempDir();
        using (var t = Trainer.Open(config, dir, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        var e = Assert.Throws<IOException>(() => Trainer.Open(config, dir, resume: false));
        Assert.Contains("already holds checkpoints", e.Message);
        Assert.DoesNotContain("--", e.Message);
        var missing = Path.Combine(dir, "never-ran");
        Assert.Contains("nothing to resume", Assert.Throws<IOException>(() => Trainer.Open(config, missing, resume: true)).Message);
        Assert.False(Directory.Exists(missing));
        var other = config with { DModel = 64 };
        var mismatch = Assert.Throws<InvalidDataException>(() => Trainer.Open(other, dir, resume: true));
        Assert.Contains("d32", mismatch.Message);
        var otherArchitecture = Assert.Throws<InvalidDataException>(() => Trainer.Open(config with { Architecture = "llama" }, dir, resume: true));
        Assert.Contains("trains a gpt2", otherArchitecture.Message);
        var untrainable = Assert.Throws<ArgumentException>(() => Trainer.Open(config with { Architecture = "gemma" }, dir, resume: true));
        Assert.Contains("cannot be trained", untrainable.Message);
    }

    /// <summary>A checkpoint is a standard HF folder: loading it back through the ordinary loader gives the trainer's own logits.</summary>
    [Theory]
    [InlineData("gpt2", "GPT2LMHeadModel")]
    [InlineData("llama", "LlamaForCausalLM")]
    public void CheckpointLoadsBackWithTheTrainersLogits(string architecture, string hfClass)
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var dir = TempDir();
        var config = TinyCorpusConfig(corpus) with { Architecture = architecture, Steps = 4, WarmupSteps = 1 };
        using var trainer = Trainer.Open(config, dir, resume: false);
        trainer.Run(cancel: TestContext.Current.CancellationToken);
        var checkpoint = Path.Combine(dir, Trainer.CheckpointsFolder, "step-0000004");
        Assert.Contains(hfClass, File.ReadAllText(Path.Combine(checkpoint, "config.json")));
        using (var tokenizerConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "tokenizer_config.json"))))
        {
            Assert.Equal("PreTrainedTokenizerFast", tokenizerConfig.RootElement.GetProperty("tokenizer_class").GetString());
            Assert.Equal("<|endoftext|>", tokenizerConfig.RootElement.GetProperty("eos_token").GetString());
        }

        using var loaded = ModelLoader.Load(checkpoint);
        Assert.Equal(architecture, loaded.Model.Config.Architecture);
        Assert.False(loaded.Model.Config.AddBos, "documents were separated by end-of-text, never preceded by a BOS");
        var ids = loaded.Encode("Now is the winter of our discontent");
        var expected = trainer.Model.RunWithCache(TokenBatch.Single(ids), _ => false).Logits.Span.ToArray();
        var actual = loaded.Model.RunWithCache(TokenBatch.Single(ids), _ => false).Logits.Span.ToArray();
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-4f));
    }

    /// <summary>
    /// BOS follows Hugging Face: the generic PreTrainedTokenizerFast (what checkpoints are written with) or an explicit
    /// add_bos_token lets tokenizer.json decide; a model-specific class keeps the architecture's convention. Export keeps
    /// a folder's own tokenizer_config.json.
    /// </summary>
    [Fact]
    public void BosFollowsTheTokenizerConfigAndExportKeepsIt()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var dir = TempDir();
        var config = TinyCorpusConfig(corpus) with { Architecture = "llama", Steps = 2, WarmupSteps = 1 };
        using (var trainer = Trainer.Open(config, dir, resume: false)) trainer.Run(cancel: TestContext.Current.CancellationToken);
        var checkpoint = Path.Combine(dir, Trainer.CheckpointsFolder, "step-0000002");
        var tokenizerConfig = Path.Combine(checkpoint, "tokenizer_config.json");
        bool AddsBos()
        {
            using var loaded = ModelLoader.Load(checkpoint);
            return loaded.Model.Config.AddBos;
        }
        Assert.False(AddsBos());

        var exported = Path.Combine(TempDir(), "exported");
        using (var loaded = ModelLoader.Load(checkpoint))
            HfCheckpoint.Write(exported, (ITrainableArchitecture)ArchitectureRegistry.ByName("llama", "test"), loaded.Model.Config, loaded.Model.Weights,
                Path.Combine(checkpoint, "tokenizer.json"), DType.BF16);
        Assert.Equal(File.ReadAllBytes(tokenizerConfig), File.ReadAllBytes(Path.Combine(exported, "tokenizer_config.json")));

        File.WriteAllText(tokenizerConfig, """{"tokenizer_class": "LlamaTokenizerFast"}""");
        Assert.True(AddsBos());
        File.WriteAllText(tokenizerConfig, """{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false}""");
        Assert.False(AddsBos());
        File.WriteAllText(tokenizerConfig, "{not json");
        var error = Assert.Throws<InvalidDataException>(() => AddsBos());
        Assert.Contains("tokenizer_config.json", error.Message);
    }

    [Fact]
    public void NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var dir = TempDir();
        var config = TinyCorpusConfig(corpus) with { Steps = 8, WarmupSteps = 1 };
        using (var cancel = new CancellationTokenSource())
        using (var t = Trainer.Open(config, dir, resume: false))
            t.Run(r => { if (r.Step == 4) cancel.Cancel(); }, cancel.Token);
        var good = File.ReadAllBytes(Path.Combine(dir, Trainer.CheckpointsFolder, "step-0000004", "model.safetensors"));

        using (var t = Trainer.Open(config, dir, resume: true))
        {
            // Diverged weights, as a too-high learning rate would leave them.
            t.Model.Weights.Embedding.Span.Fill(float.NaN);
            var e = Assert.Throws<TrainingStoppedException>(() => t.Run(cancel: TestContext.Current.CancellationToken));
            Assert.Contains("loss became NaN at step 5", e.Message);
            Assert.Contains("last good checkpoint", e.Message);
            Assert.Equal(4, t.Step);
        }
        Assert.Equal("\"step-0000004\"", File.ReadAllText(Path.Combine(dir, Trainer.LatestFile)));
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(dir, Trainer.CheckpointsFolder, "step-0000004", "model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(dir, Trainer.CheckpointsFolder, "step-0000008")));
        using var resumed = Trainer.Open(config, dir, resume: true);
        Assert.Equal(4, resumed.Step);
        Assert.All(resumed.Model.Weights.Embedding.Span.ToArray(), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void NonFiniteMetricsAreWrittenAsJsonNull()
    {
        var record = new MetricsRecord
        {
            Step = 3, TrainLoss = 2.5, ValLoss = double.PositiveInfinity, GradNorm = double.NaN,
            Dynamics = new() { ["induction_score"] = double.NegativeInfinity, ["prev_token_score"] = 0.25 },
        };
        var line = JsonSerializer.Serialize(record, Trainer.MetricsJson);
        Assert.Contains("\"val_loss\":null", line);
        Assert.Contains("\"grad_norm\":null", line);
        Assert.Contains("\"induction_score\":null", line);
        Assert.DoesNotContain("learning_rate", line);
        var back = JsonSerializer.Deserialize<MetricsRecord>(line, Trainer.MetricsJson)!;
        Assert.Equal(2.5, back.TrainLoss);
        Assert.Equal(0.25, back.Dynamics!["prev_token_score"]);
        Assert.True(double.IsNaN(back.Dynamics["induction_score"]));
        Assert.Contains("null", JsonSerializer.Serialize(new TrainingState { LastValidationLoss = double.NaN }, TrainConfig.Json));
    }

    [Theory]
    [InlineData("\"n_heads\": 3", "does not divide")]
    [InlineData("\"vocab_size\": 100000", "uint16")]
    [InlineData("\"warmup_steps\": 5000", "warmup_steps")]
    public void ImpossibleConfigsAreRejected(string field, string message)
    {
        var path = Path.Combine(TempDir(), "config.json");
        File.WriteAllText(path, $"{{\"d_model\": 64, \"steps\": 100, \"corpus\": [\"x.txt\"], {field}}}");
        var e = Assert.Throws<ArgumentException>(() => TrainConfig.Load(path).Validate());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void EmptyCorpusIsAClearError()
    {
        var dir = TempDir();
        var empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(empty, "");
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Open(TinyCorpusConfig(empty), Path.Combine(dir, "run"), resume: false));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void ScoreDatasetAccuracyIsRecordedAsADynamicsMetric()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var dir = TempDir();
        var dataset = Path.Combine(dir, "probe.jsonl");
        File.WriteAllText(dataset, "{\"prompt\":\"I pray you, tell\",\"target\":\" me\",\"foil\":\" the\",\"group\":\"g\"}\n");
        var config = TinyCorpusConfig(corpus) with { Steps = 4, WarmupSteps = 0, Metrics = [dataset] };
        var reports = new List<StepReport>();
        using (var t = Trainer.Open(config, Path.Combine(dir, "run"), resume: false, probe: TrainingMetrics.Probe(config.Metrics))) t.Run(reports.Add, TestContext.Current.CancellationToken);
        var dynamics = reports.First(r => r.Dynamics is not null).Dynamics!;
        Assert.InRange(dynamics["probe_accuracy"], 0, 1);
        Assert.True(dynamics.ContainsKey("probe_g_accuracy"));
    }
}

using System.Diagnostics;
using System.Text.Json;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Training;

/// <summary>What the trainer reports after each optimizer step.</summary>
public sealed record StepReport(int Step, long Tokens, int TotalSteps, double TrainLoss, double? ValidationLoss, float LearningRate, double GradNorm,
    double TokensPerSecond, string? Checkpoint, IReadOnlyDictionary<string, double>? Dynamics);

/// <summary>One optimizer step: its mean loss, gradient norm before clipping, learning rate and seconds by phase (forward includes the loss, optimizer includes clipping).</summary>
public readonly record struct StepTiming(double Loss, double GradNorm, float LearningRate, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds)
{
    public double TotalSeconds => ForwardSeconds + BackwardSeconds + OptimizerSeconds;
}

/// <summary>
/// Trains a transformer from scratch with AdamW, checkpointing in Hugging Face format. The batch of every step is a
/// pure function of (seed, step), so a run killed and resumed from a checkpoint follows the same trajectory as one
/// that never stopped.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainConfig _config;
    private readonly string _outDir;
    private readonly ITrainableArchitecture _architecture;
    private readonly TransformerConfig _modelConfig;
    private readonly TransformerWeights _weights;
    private readonly HookedTransformer _model;
    private readonly (string Name, Tensor Param, Tensor M, Tensor V, bool Decay)[] _params;
    private readonly ITrainingData _data;
    private readonly ITokenizer? _tokenizer;
    private readonly TrainingProbe _probe;
    private readonly TensorArena _arena = new();
    private readonly Tape _tape = new();
    private readonly int[] _inputs;
    private readonly int[] _targets;
    /// <summary>Per-position loss weights of a training micro-batch (<see cref="TrainConfig.FocusLossWeight"/>); null when the loss is a plain mean.</summary>
    private readonly float[]? _lossWeights;
    /// <summary>The loss weight of a position by the id of its next token; null when the loss is a plain mean.</summary>
    private readonly float[]? _weightOfTarget;
    /// <summary>Steps of this run (its schedule's step); <see cref="StartStep"/> more were taken before it by the run it started from.</summary>
    private int _step;
    private long _tokensSeen;
    private readonly int _startStep;
    private readonly long _startTokens;
    private readonly string? _initFrom;
    /// <summary>The shape this run grew from at its start (<see cref="ModelGrowth"/>), carried through resumes; null when it did not grow.</summary>
    private readonly string? _grownFrom;
    private readonly ModelGrowth? _growth;

    public const string CheckpointsFolder = "checkpoints";
    public const string LatestFile = "latest.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Optimizer steps taken by this run (not counting <see cref="StartStep"/>).</summary>
    public int Step => _step;
    /// <summary>The step of the checkpoint this run started from (<see cref="TrainConfig.Init"/>); 0 for a run from scratch.</summary>
    public int StartStep => _startStep;
    public HookedTransformer Model => _model;
    public long ParameterCount => _params.Sum(p => (long)p.Param.Size);

    /// <summary>Called after each backward closure the tape runs, with its time (for profiling the backward pass).</summary>
    public Action<Action, TimeSpan>? BackwardStepObserver
    {
        get => _tape.StepObserver;
        set => _tape.StepObserver = value;
    }

    /// <summary>
    /// A trainer over any data source. <paramref name="tokenizer"/> (when given) is copied into checkpoints;
    /// <paramref name="resumeFrom"/> is a checkpoint folder to continue from; otherwise <see cref="TrainConfig.Init"/>, when set, is a
    /// checkpoint whose weights and AdamW moments start the run (as is: <see cref="Open"/> checks its shape and tokenizer).
    /// <paramref name="probe"/> measures the
    /// model at each evaluation; by default <see cref="TrainingDynamics.Probe"/> of the config's metrics.
    /// </summary>
    public Trainer(TrainConfig config, ITrainingData data, int vocabSize, ITokenizer? tokenizer, string outDir, string? resumeFrom = null,
        TrainingProbe? probe = null)
    {
        config.Validate();
        _config = config;
        _probe = probe ?? TrainingDynamics.Probe(config.Metrics);
        _outDir = outDir;
        _tokenizer = tokenizer;
        _data = data;
        _architecture = TrainableArchitecture(config.Architecture, outDir);
        _modelConfig = ModelConfig(config, vocabSize, tokenizer?.Eos);
        Directory.CreateDirectory(outDir);
        var startFrom = resumeFrom ?? config.Init;
        bool fromExport = resumeFrom is null && startFrom is not null && IsModelExport(startFrom);
        TransformerWeights? oldWeights = null;
        if (startFrom is null)
        {
            _weights = _architecture.CreateRandom(_modelConfig, config.Seed);
        }
        else
        {
            var state = fromExport ? ExportState(startFrom) : TrainingState.Load(startFrom);
            if (state.Architecture != config.Architecture)
                throw new InvalidDataException($"{startFrom}: checkpoint is a '{state.Architecture}' model, the config trains '{config.Architecture}'");
            var fromConfig = CheckpointModel.Config(startFrom);
            // A new run whose recipe is larger than its init checkpoint grows it (Open has checked that it can).
            var growth = resumeFrom is null && CheckpointModel.Describe(fromConfig) != CheckpointModel.Describe(_modelConfig)
                ? new ModelGrowth(fromConfig, _modelConfig, startFrom) : null;
            // The norm epsilon is the checkpoint's (a grown model's is scaled, see ModelGrowth), not the architecture's default.
            _modelConfig = growth?.To ?? _modelConfig with { NormEps = fromConfig.NormEps };
            oldWeights = LoadTrainable(startFrom, growth?.From ?? _modelConfig);
            _weights = growth is null ? oldWeights : growth.Grow(oldWeights, _architecture.CreateRandom(_modelConfig, config.Seed));
            _growth = growth;
            _grownFrom = growth is null ? resumeFrom is null ? null : state.GrownFrom : CheckpointModel.Describe(fromConfig);
            _tokensSeen = state.TokensSeen;
            (_startStep, _startTokens, _initFrom) = resumeFrom is null
                ? (state.Step, state.TokensSeen, Path.GetFullPath(startFrom))
                : (state.StartStep, state.StartTokens, state.InitFrom);
            _step = state.Step - _startStep;
        }
        _model = new HookedTransformer(_modelConfig, _weights);
        _params = _weights.Parameters()
            .DistinctBy(p => p.Tensor, ReferenceEqualityComparer.Instance)
            .Select(p => (p.Name, p.Tensor, Tensor.Zeros(p.Tensor.Shape.ToArray()), Tensor.Zeros(p.Tensor.Shape.ToArray()), p.Tensor.Rank >= 2))
            .ToArray();
        // An exported model carries no AdamW moments: they start at zero, as in a run from scratch.
        if (startFrom is not null && !fromExport) LoadOptimizer(startFrom, oldWeights!);
        TruncateMetricsAfter(Path.Combine(outDir, MetricsFile), _startStep + _step);
        _inputs = new int[config.BatchSize * config.Context];
        _targets = new int[config.BatchSize * config.Context];
        if (config.FocusLossWeight != 1)
        {
            _weightOfTarget = new float[vocabSize];
            Array.Fill(_weightOfTarget, 1f);
            foreach (int id in config.FocusTokenIds(tokenizer ?? throw new ArgumentException("invalid training config: focus_loss_weight needs the run's tokenizer")))
                _weightOfTarget[id] = (float)config.FocusLossWeight;
            _lossWeights = new float[_targets.Length];
        }
    }

    /// <summary>Whether <paramref name="outDir"/> holds a run's checkpoints (a new run there would mix with it).</summary>
    public static bool HoldsCheckpoints(string outDir) =>
        Directory.Exists(Path.Combine(outDir, CheckpointsFolder)) && Directory.EnumerateDirectories(Path.Combine(outDir, CheckpointsFolder)).Any();

    /// <summary>Whether <paramref name="outDir"/> holds a run that can be resumed.</summary>
    public static bool HoldsRun(string outDir) => File.Exists(Path.Combine(outDir, LatestFile));

    /// <summary>
    /// Prepares (or reopens) a run in <paramref name="outDir"/>: the tokenizer, the tokenized corpus and the latest
    /// checkpoint when <paramref name="resume"/> is set.
    /// </summary>
    public static Trainer Open(TrainConfig config, string outDir, bool resume, Action<string>? log = null, TrainingProbe? probe = null)
    {
        config.Validate();
        probe ??= TrainingDynamics.Probe(config.Metrics);
        bool synthetic = config.Data == TrainConfig.RepeatedRandomTokensData;
        if (!synthetic && config.Corpus.Length == 0) throw new ArgumentException("invalid training config: no corpus files");
        if (resume && !HoldsRun(outDir))
            throw new IOException($"nothing to resume in {outDir}: it holds no run ({LatestFile} is missing)");
        if (!resume && HoldsCheckpoints(outDir))
            throw new IOException($"{outDir} already holds checkpoints; resume that run or choose another folder");
        // A resumed run knows where it started (its trainer state); a new one checks its init checkpoint before writing anything.
        if (!resume && config.Init is { } init) CheckInitCheckpoint(config, init);
        Directory.CreateDirectory(outDir);
        var configPath = Path.Combine(outDir, "train_config.json");
        string? resumeFrom = null;
        if (resume)
        {
            var saved = TrainConfig.Load(configPath);
            if (saved.Architecture != config.Architecture || saved.DModel != config.DModel || saved.NLayers != config.NLayers)
                throw new InvalidDataException($"{outDir}: the run there trains a {saved.Architecture} d{saved.DModel}×{saved.NLayers}; the config asks for {config.Architecture} d{config.DModel}×{config.NLayers}");
            resumeFrom = Path.Combine(outDir, CheckpointsFolder, JsonSerializer.Deserialize<string>(File.ReadAllText(Path.Combine(outDir, LatestFile)))!);
            log?.Invoke($"resuming from {resumeFrom}");
        }
        File.WriteAllText(configPath, JsonSerializer.Serialize(config, TrainConfig.Json));

        var tokenizerPath = Path.Combine(outDir, "tokenizer.json");
        if (!File.Exists(tokenizerPath))
        {
            if (config.Tokenizer is not null) File.Copy(config.Tokenizer, tokenizerPath);
            else if (config.Init is not null) File.Copy(TokenizerDiscovery.Find(config.Init), tokenizerPath);
            else if (synthetic) TrainedBpe.Bytes(config.VocabSize - 1).Save(tokenizerPath);
            else
            {
                if (config.VocabSize <= 256) throw new ArgumentException($"invalid training config: a byte-level BPE needs vocab_size > 256, got {config.VocabSize}");
                log?.Invoke($"training a byte-level BPE tokenizer with {config.VocabSize} tokens");
                using var text = new DocumentTextReader(config.Corpus.SelectMany(CorpusReader.Documents));
                new BpeTrainer { VocabSize = config.VocabSize }.Train(text).Save(tokenizerPath);
            }
        }
        var tokenizer = HfTokenizer.Load(tokenizerPath);
        var focus = config.Focus(tokenizer);
        if (synthetic) return LogGrowth(new Trainer(config, new RepeatedRandomTokens(tokenizer.VocabSize), tokenizer.VocabSize, tokenizer, outDir, resumeFrom, probe), log);
        var dataDir = Path.Combine(outDir, "data");
        if (!File.Exists(Path.Combine(dataDir, "val.bin")))
        {
            log?.Invoke("tokenizing the corpus");
            var (trainCount, valCount) = TokenDataset.Build(config.Corpus, tokenizer, dataDir, config.ValidationFraction,
                (file, total) => log?.Invoke($"  {Path.GetFileName(file)}: {total:N0} tokens so far"));
            log?.Invoke($"{trainCount:N0} training and {valCount:N0} validation tokens");
        }
        var train = TokenDataset.Open(Path.Combine(dataDir, "train.bin"));
        var validation = TokenDataset.Open(Path.Combine(dataDir, "val.bin"));
        if (train.Count <= config.Context + 1 || validation.Count <= config.Context + 1)
            throw new InvalidDataException($"{dataDir}: too few tokens ({train.Count} train, {validation.Count} validation) for context {config.Context}");
        return LogGrowth(new Trainer(config, new CorpusTrainingData(train, validation, config.Repeats(tokenizer.VocabSize), focus), tokenizer.VocabSize, tokenizer, outDir, resumeFrom, probe), log);
    }

    /// <summary>For a run that grows its init checkpoint: the grown model's validation loss at step 0 beside the checkpoint's own (growth keeps the function, so they agree).</summary>
    private static Trainer LogGrowth(Trainer trainer, Action<string>? log)
    {
        if (trainer._growth is { } growth && log is not null)
            log($"grew {CheckpointModel.Describe(growth.From)} into {CheckpointModel.Describe(growth.To)}: validation loss at step 0 {trainer.ValidationLoss():F6} "
                + (IsModelExport(trainer._initFrom!) ? "(an exported model records none to compare)"
                    : $"(the checkpoint recorded {TrainingState.Load(trainer._initFrom!).LastValidationLoss:F6})"));
        return trainer;
    }

    /// <summary>
    /// A model folder without a trainer's state or AdamW moments (what `pinpoint export` writes, or any Hugging Face
    /// folder of a trainable architecture): a run may start from its weights, at step 0 with fresh moments.
    /// </summary>
    private static bool IsModelExport(string folder) =>
        !File.Exists(Path.Combine(folder, TrainingState.FileName)) && !File.Exists(Path.Combine(folder, OptimizerFile));

    private static TrainingState ExportState(string folder) => new() { Architecture = CheckpointModel.Config(folder).Architecture };

    /// <summary>
    /// Refuses an init checkpoint that is incomplete, of another architecture, of a shape that cannot grow into the recipe's
    /// (<see cref="ModelGrowth"/>), or whose tokenizer differs from the recipe's (without a recipe tokenizer the checkpoint's is used).
    /// </summary>
    private static void CheckInitCheckpoint(TrainConfig config, string init)
    {
        if (!Directory.Exists(init)) throw new DirectoryNotFoundException($"{init}: no such checkpoint folder (init)");
        bool export = IsModelExport(init);
        foreach (var file in export ? ["config.json", "model.safetensors"] : new[] { TrainingState.FileName, "config.json", "model.safetensors", OptimizerFile })
            if (!File.Exists(Path.Combine(init, file)))
                throw new InvalidDataException(export ? $"{init}: not a model folder (no {file})" : $"{init}: not a complete training checkpoint (no {file})");
        var state = export ? ExportState(init) : TrainingState.Load(init);
        if (state.Architecture != config.Architecture)
            throw new InvalidDataException($"{init}: checkpoint is a '{state.Architecture}' model, the recipe trains '{config.Architecture}'");
        var tokenizerPath = TokenizerDiscovery.Find(init);
        if (config.Tokenizer is not null && CheckpointModel.TokenizerHash(config.Tokenizer) != CheckpointModel.TokenizerHash(tokenizerPath))
            throw new InvalidDataException($"{init}: its tokenizer differs from the recipe's {config.Tokenizer}");
        using var tokenizer = HfTokenizer.Load(tokenizerPath);
        TransformerConfig wanted = ModelConfig(config, tokenizer.VocabSize, tokenizer.Eos), found = CheckpointModel.Config(init);
        if (CheckpointModel.Describe(wanted) != CheckpointModel.Describe(found)) _ = new ModelGrowth(found, wanted, init);
    }

    /// <summary>The model a recipe describes, with its architecture's conventions.</summary>
    public static TransformerConfig ModelConfig(TrainConfig c, int vocabSize, int? endOfText) =>
        TrainableArchitecture(c.Architecture, "training config").ConfigForTraining(
            new TrainingShape(c.DModel, c.NLayers, c.NHeads, c.DMlp, vocabSize, c.Context, c.AttentionOnly, endOfText));

    private static ITrainableArchitecture TrainableArchitecture(string name, string source) =>
        ArchitectureRegistry.ByName(name, source) as ITrainableArchitecture
        ?? throw new ArgumentException($"architecture '{name}' cannot be trained");

    /// <summary>Runs optimizer steps until the configured total (or cancellation), checkpointing on schedule.</summary>
    public void Run(Action<StepReport>? report = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        long tokensAtStart = _tokensSeen;
        while (_step < _config.Steps && !cancel.IsCancellationRequested)
        {
            var (loss, gradNorm, lr, _, _, _) = TrainStep();
            int step = _step, absoluteStep = _startStep + _step;
            _tokensSeen += (long)_config.BatchSize * _config.Context * _config.GradAccumulation;
            bool checkpointStep = _config.SaveCheckpoints && IsCheckpointStep(step);
            bool evaluate = checkpointStep || step % _config.EvalEvery == 0 || step == _config.Steps;
            double? valLoss = evaluate ? ValidationLoss() : null;
            double tps = (_tokensSeen - tokensAtStart) / clock.Elapsed.TotalSeconds;
            string? checkpoint = checkpointStep ? SaveCheckpoint(loss, valLoss) : null;
            var dynamics = evaluate ? new Dictionary<string, double>(_probe(_model, _tokenizer)) : null;
            AppendMetrics(new MetricsRecord
            {
                Step = absoluteStep, Tokens = _tokensSeen, TrainLoss = loss, ValLoss = valLoss, LearningRate = lr, GradNorm = gradNorm,
                TokensPerSecond = tps, Dynamics = dynamics,
                StartStep = _initFrom is null ? null : _startStep, StartTokens = _initFrom is null ? null : _startTokens,
            });
            report?.Invoke(new StepReport(absoluteStep, _tokensSeen, _startStep + _config.Steps, loss, valLoss, lr, gradNorm, tps, checkpoint, dynamics));
        }
        LossCurve.Write(Path.Combine(_outDir, MetricsFile), Path.Combine(_outDir, "loss.svg"));
    }

    /// <summary>
    /// One optimizer step (forward, backward over the micro-batches, global-norm clipping, AdamW), without the
    /// evaluation, checkpoints and metrics of <see cref="Run"/>. The learning rate follows this run's own schedule; the
    /// batch and AdamW's bias correction count every step since the moments began (<see cref="StartStep"/> included).
    /// </summary>
    public StepTiming TrainStep()
    {
        int step = _step + 1;
        double loss = 0, forward = 0, backward = 0;
        for (int micro = 0; micro < _config.GradAccumulation; micro++)
        {
            long start = Stopwatch.GetTimestamp();
            var microLoss = MicroBatchLoss(_startStep + step, micro);
            double value = microLoss.ToScalar();
            long forwardDone = Stopwatch.GetTimestamp();
            _tape.Backward(microLoss, Tensor.Full(1f / _config.GradAccumulation, microLoss.Shape.ToArray()));
            forward += Stopwatch.GetElapsedTime(start, forwardDone).TotalSeconds;
            backward += Stopwatch.GetElapsedTime(forwardDone).TotalSeconds;
            loss += value / _config.GradAccumulation;
        }
        if (!double.IsFinite(loss)) throw NotFinite("loss", loss, _startStep + step);
        long optimizerStart = Stopwatch.GetTimestamp();
        double gradNorm = GradientClipping.ClipGlobalNorm(_params.Select(p => p.Param), _config.GradClip);
        // A finite loss can still give infinite gradients; one such update would poison every weight.
        if (!double.IsFinite(gradNorm)) throw NotFinite("gradient norm", gradNorm, _startStep + step);
        float lr = _config.LearningRateAt(step);
        foreach (var (_, param, m, v, decay) in _params)
        {
            AdamW.Step(param.Span, param.Grad!.Span, m.Span, v.Span, lr, _config.Beta1, _config.Beta2, _config.AdamEps, decay ? _config.WeightDecay : 0f, _startStep + step);
            param.Grad.Span.Clear();
        }
        _step = step;
        return new StepTiming(loss, gradNorm, lr, forward, backward, Stopwatch.GetElapsedTime(optimizerStart).TotalSeconds);
    }

    private TrainingStoppedException NotFinite(string what, double value, int step) =>
        new($"{what} became {value} at step {step}; stopped without updating the weights — the last good checkpoint in {Path.Combine(_outDir, CheckpointsFolder)} is kept");

    private bool IsCheckpointStep(int step) =>
        step == _config.Steps || (step & (step - 1)) == 0 || (_config.CheckpointEvery > 0 && step % _config.CheckpointEvery == 0);

    private Tensor MicroBatchLoss(int step, int micro)
    {
        _data.FillTrainBatch(_config.Seed, step, micro, _config.BatchSize, _config.Context, _inputs, _targets);
        _tape.Clear();
        _arena.Reset();
        if (_weightOfTarget is not null)
            for (int i = 0; i < _targets.Length; i++)
                _lossWeights![i] = _weightOfTarget[_targets[i]];
        return Loss(new Compute(_tape, _arena), _lossWeights);
    }

    private Tensor Loss(Compute cx, float[]? weights = null)
    {
        var batch = new TokenBatch(_config.BatchSize, _config.Context, _inputs);
        var logits = _model.Forward(cx, batch);
        return cx.CrossEntropy(cx.Reshape(logits, _inputs.Length, _modelConfig.VocabSize), _targets, weights: weights);
    }

    /// <summary>Mean loss over fixed, evenly spaced validation windows (the same ones at every evaluation).</summary>
    public double ValidationLoss()
    {
        double total = 0;
        for (int b = 0; b < _config.EvalBatches; b++)
        {
            _data.FillValidationBatch(b, _config.EvalBatches, _config.BatchSize, _config.Context, _inputs, _targets);
            _tape.Clear();
            _arena.Reset();
            total += Loss(new Compute(null, _arena)).ToScalar();
        }
        return total / _config.EvalBatches;
    }

    private string SaveCheckpoint(double trainLoss, double? valLoss)
    {
        string name = $"step-{_startStep + _step:D7}";
        string dir = Path.Combine(_outDir, CheckpointsFolder, name);
        Directory.CreateDirectory(dir);
        var tokenizerJson = Path.Combine(_outDir, "tokenizer.json");
        HfCheckpoint.Write(dir, _architecture, _modelConfig, _weights, File.Exists(tokenizerJson) ? tokenizerJson : null, DType.F32);
        SafetensorsWriter.Write(Path.Combine(dir, OptimizerFile),
            _params.SelectMany(p => new[] { KeyValuePair.Create(p.Name + ".m", p.M), KeyValuePair.Create(p.Name + ".v", p.V) }));
        var state = new TrainingState
        {
            Step = _startStep + _step, TokensSeen = _tokensSeen, Architecture = _config.Architecture, LastTrainLoss = trainLoss, LastValidationLoss = valLoss,
            ValidationData = _config.Data, InitFrom = _initFrom, StartStep = _startStep, StartTokens = _startTokens, GrownFrom = _grownFrom,
        };
        AtomicFile.Write(Path.Combine(dir, TrainingState.FileName), s => JsonSerializer.Serialize(s, state, TrainConfig.Json));
        AtomicFile.Write(Path.Combine(_outDir, LatestFile), s => JsonSerializer.Serialize(s, name));
        return dir;
    }

    private TransformerWeights LoadTrainable(string dir, TransformerConfig config)
    {
        using var file = TensorFile.Open(Path.Combine(dir, "model.safetensors"));
        var source = new CopyingTensorSource(file);
        return _architecture.WeightsFromHf(config, source);
    }

    /// <summary>Reads the checkpoint's AdamW moments (of <paramref name="checkpointWeights"/>'s parameters), grown like the weights when the run grew.</summary>
    private void LoadOptimizer(string dir, TransformerWeights checkpointWeights)
    {
        using var file = TensorFile.Open(Path.Combine(dir, OptimizerFile));
        if (_growth is not null)
        {
            var names = checkpointWeights.Parameters().ToDictionary(p => (object)p.Tensor, p => p.Name, ReferenceEqualityComparer.Instance);
            Dictionary<string, Tensor> Grown(string moment, int power) => _growth.GrowMoments(checkpointWeights.Map(t => file[names[t] + moment].Clone()), _weights, power)
                .Parameters().ToDictionary(p => p.Name, p => p.Tensor);
            var (first, second) = (Grown(".m", 1), Grown(".v", 2));
            foreach (var (name, _, m, v, _) in _params)
            {
                first[name].Span.CopyTo(m.Span);
                second[name].Span.CopyTo(v.Span);
            }
            return;
        }
        foreach (var (name, _, m, v, _) in _params)
        {
            file[name + ".m"].CopyTo(m.Span);
            file[name + ".v"].CopyTo(v.Span);
        }
    }

    private void AppendMetrics(MetricsRecord record)
    {
        var path = Path.Combine(_outDir, MetricsFile);
        File.AppendAllText(path, JsonSerializer.Serialize(record, MetricsJson) + "\n");
    }

    /// <summary>On resume, drops metric lines past the checkpoint so the log matches an uninterrupted run.</summary>
    public static void TruncateMetricsAfter(string path, int step)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadLines(path).Where(l => l.Length > 0 && JsonSerializer.Deserialize<MetricsRecord>(l, MetricsJson)!.Step <= step).ToList();
        File.WriteAllLines(path, kept);
    }

    public static readonly JsonSerializerOptions MetricsJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Converters = { new NonFiniteAsNull() },
    };

    public void Dispose()
    {
        _data.Dispose();
        _tokenizer?.Dispose();
    }

    /// <summary>Reads checkpoint tensors into fresh managed F32 parameters (trainable, independent of the file).</summary>
    private sealed class CopyingTensorSource(TensorFile file) : ITensorSource
    {
        public string SourcePath => file.Path;
        public IEnumerable<string> Names => file.Names;

        public Tensor? TryGet(string name)
        {
            if (!file.TryGetTensor(name, out var t)) return null;
            var copy = t.Clone();
            copy.RequiresGrad = true;
            return copy;
        }
    }
}

using System.Globalization;
using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Training;

namespace Pinpoint.Cli.Commands;

/// <summary>
/// <c>pinpoint sae train</c>: harvest a model's activations at one or more hooks (one forward pass feeds all of
/// them) and train an SAE per hook, each in <c>OUT/&lt;hook&gt;/</c> in SAELens format.
/// </summary>
public sealed class SaeTrainCommand : Command
{
    private static readonly CliOption Hook = new("hook", "NAMES", "comma-separated per-token hooks (e.g. blocks.1.hook_resid_post,blocks.2.hook_mlp_out); one SAE each from one harvest");
    private static readonly CliOption Corpus = new("corpus", "FILES", "comma-separated corpus files (.txt, .jsonl with a \"text\" field, WordNet .tsv)");
    private static readonly CliOption Out = new("out", "DIR", "run folder: OUT/<hook>/ gets the SAE (cfg.json, sae_weights.safetensors, sparsity.safetensors), checkpoints/, metrics.jsonl, loss.svg");
    private static readonly CliOption Config = new("config", "FILE", "recipe (JSON, snake_case fields of SaeTrainConfig); options below override it");
    private static readonly CliOption Resume = new("resume", null, "continue the runs in --out from their latest checkpoints (exactly as if they never stopped)");
    private static readonly CliOption Architecture = new("architecture", "A", "standard, topk, batchtopk or jumprelu");
    private static readonly CliOption DSae = new("d-sae", "N", "features per SAE");
    private static readonly CliOption K = new("k", "N", "active features per token (topk, batchtopk)");
    private static readonly CliOption Steps = new("steps", "N", "optimizer steps");
    private static readonly CliOption BatchSize = new("batch-size", "N", "tokens per step");
    private static readonly CliOption LearningRate = new("lr", "X", "learning rate");
    private static readonly CliOption Seed = new("seed", "S", "seed for initialisation and data order");
    internal static readonly CliOption Split = new("split", "S", "documents to use: all (default), train or validation — the trainer's hash split of the files in the order given");
    internal static readonly CliOption ValidationFraction = new("validation-fraction", "F", "validation share of that split (default 0.02, as pinpoint train)");
    private static readonly CliOption DTypeOption = new("dtype", "T", "weights of the final SAE: f32 (default) or bf16");

    public override string Name => "sae train";
    public override string Summary => "train sparse autoencoders on a model's activations (SAELens format)";
    public override IReadOnlyList<CliOption> Options { get; } =
        [.. ModelOptions.All, Hook, Corpus, Out, Config, Resume, Architecture, DSae, K, Steps, BatchSize, LearningRate, Seed, Split, ValidationFraction, DTypeOption];
    public override Type ResultType => typeof(Result);

    public sealed record HookResult(string Hook, string Sae, int Step, long Tokens, double Mse, double L0, double ExplainedVariance,
        double DeadFraction, double TokensPerSecond);
    public sealed record Result(string Out, IReadOnlyList<HookResult> Saes, long HarvestedTokens, double Seconds);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var config = args.String(Config) is { } path ? SaeTrainConfig.Load(path) : new SaeTrainConfig();
        config = config with
        {
            Hook = args.String(Hook) ?? config.Hook,
            Corpus = args.String(Corpus)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? config.Corpus,
            Architecture = args.String(Architecture) ?? config.Architecture,
            DSae = args.Int(DSae, config.DSae, min: 1),
            K = args.Int(K, config.K, min: 1),
            Steps = args.Int(Steps, config.Steps, min: 1),
            BatchSize = args.Int(BatchSize, config.BatchSize, min: 1),
            LearningRate = args.Float(LearningRate, config.LearningRate),
            Seed = args.Int(Seed, config.Seed),
        };
        config.Validate();
        if (config.Corpus.Length == 0) throw new CliException("option --corpus is required (or \"corpus\" in --config)");
        var hooks = config.Hook.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hooks.Length == 0) throw new CliException("option --hook is required (or \"hook\" in --config)");
        var dtype = DTypeOf(args.String(DTypeOption));
        var keep = DocumentFilter(args.String(Split), args.Float(ValidationFraction, 0.02f));
        var outDir = args.RequiredString(Out);
        bool resume = args.Flag(Resume);

        using var model = ModelOptions.Open(args);
        var widths = hooks.Select(h => SaeSplice.HookWidth(model.Model.Config, h)).ToArray();
        for (int i = 0; i < hooks.Length; i++)
        {
            if (!model.Model.HookNamesInOrder().Contains(hooks[i]))
                throw new ArgumentException($"option --hook: this model has no hook '{hooks[i]}' (see pinpoint info)");
            if (widths[i] == 0) throw new ArgumentException($"option --hook: '{hooks[i]}' is not a residual, attention/MLP output or MLP hidden hook");
        }
        var log = Console.Error;
        log.WriteLine($"reading corpus windows of {config.Context} tokens");
        var windows = HarvestSources.Corpus(model, config.Corpus, config.Context, keep).ToList();
        var harvester = new ActivationHarvester(model.Model, hooks, HarvestPositions.Every);
        var activations = new HarvestedActivations(harvester, windows, config.BufferTokens, config.BatchSize, config.Seed, config.BufferReuse);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var trainers = new List<SaeTrainer>();
        try
        {
            for (int i = 0; i < hooks.Length; i++)
            {
                var dir = Path.Combine(outDir, hooks[i]);
                var resumeFrom = PrepareRun(dir, config, resume);
                if (resumeFrom is not null) log.WriteLine($"{hooks[i]}: resuming from {resumeFrom}");
                var metadata = new SaeMetadata
                {
                    HookName = hooks[i], ModelName = ModelName(args), ContextSize = config.Context,
                    PrependBos = model.Model.Config.AddBos && model.Tokenizer.Bos is not null,
                    DatasetPath = string.Join(",", config.Corpus.Select(Path.GetFileName)),
                };
                trainers.Add(new SaeTrainer(config, activations.ForHook(i, widths[i]), metadata, dir, resumeFrom));
            }
            for (int step = trainers.Min(t => t.Step) + 1; step <= config.Steps; step++)
                for (int i = 0; i < trainers.Count; i++)
                    trainers[i].Run(r => log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{hooks[i]} step {r.Step}/{r.TotalSteps} · loss {r.Loss:G4} · mse {r.Mse:G4} · l0 {r.L0:F1} · EV {r.ExplainedVariance:F3} · dead {r.DeadFraction:P1} · {r.TokensPerSecond:F0} tok/s{(r.Checkpoint is null ? "" : " → " + r.Checkpoint)}")),
                        untilStep: step);
            var results = new List<HookResult>();
            for (int i = 0; i < trainers.Count; i++)
            {
                var dir = Path.Combine(outDir, hooks[i]);
                SaeLensFormat.Write(dir, trainers[i].Export(), trainers[i].LogDensity(), dtype);
                var r = trainers[i].LastLogged;
                results.Add(new HookResult(hooks[i], dir, trainers[i].Step, trainers[i].TokensSeen, r?.Mse ?? double.NaN, r?.L0 ?? double.NaN,
                    r?.ExplainedVariance ?? double.NaN, r?.DeadFraction ?? double.NaN, r?.TokensPerSecond ?? double.NaN));
            }
            var result = new Result(outDir, results, activations.HarvestedTokens, clock.Elapsed.TotalSeconds);
            if (output.Json) output.WriteJson(result);
            else
                foreach (var r in results)
                    output.Text.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{r.Hook}: step {r.Step}, {r.Tokens:N0} tokens, mse {r.Mse:G4}, l0 {r.L0:F1}, EV {r.ExplainedVariance:F3}, dead {r.DeadFraction:P1} → {r.Sae}"));
            return 0;
        }
        finally
        {
            foreach (var t in trainers) t.Dispose();
        }
    }

    /// <summary>The checkpoint to resume from (null for a fresh run), refusing to start over a run that has checkpoints.</summary>
    private static string? PrepareRun(string dir, SaeTrainConfig config, bool resume)
    {
        Directory.CreateDirectory(dir);
        var configPath = Path.Combine(dir, "sae_train_config.json");
        var latest = Path.Combine(dir, Trainer.LatestFile);
        string? resumeFrom = null;
        if (resume && File.Exists(latest))
        {
            var saved = SaeTrainConfig.Load(configPath);
            if (saved.Architecture != config.Architecture || saved.DSae != config.DSae || saved.BatchSize != config.BatchSize)
                throw new InvalidDataException($"{dir}: the run there trains a {saved.Architecture} SAE of {saved.DSae} features on batches of {saved.BatchSize}; the options ask for {config.Architecture}, {config.DSae}, {config.BatchSize}");
            resumeFrom = Path.Combine(dir, Trainer.CheckpointsFolder, JsonSerializer.Deserialize<string>(File.ReadAllText(latest))!);
            Trainer.TruncateMetricsAfter(Path.Combine(dir, Trainer.MetricsFile), TrainingState.Load(resumeFrom).Step);
        }
        else if (Directory.Exists(Path.Combine(dir, Trainer.CheckpointsFolder)) && Directory.EnumerateDirectories(Path.Combine(dir, Trainer.CheckpointsFolder)).Any())
        {
            throw new InvalidDataException($"{dir} already holds checkpoints; pass --resume to continue that run or choose another folder");
        }
        else
        {
            File.Delete(Path.Combine(dir, Trainer.MetricsFile));
        }
        File.WriteAllText(configPath, JsonSerializer.Serialize(config, SaeTrainConfig.Json));
        return resumeFrom;
    }

    private static string ModelName(CliArgs args) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(args.String(ModelOptions.Model) ?? ModelOptions.DefaultModelPath)));

    internal static DType DTypeOf(string? name) => name?.ToLowerInvariant() switch
    {
        null or "f32" or "float32" => DType.F32,
        "bf16" or "bfloat16" => DType.BF16,
        _ => throw new CliException($"option --dtype: '{name}' is not f32 or bf16"),
    };

    /// <summary>Documents to keep by their index over the corpus files, by the trainer's validation hash.</summary>
    internal static Func<long, bool>? DocumentFilter(string? split, float validationFraction)
    {
        if (validationFraction is < 0 or > 1) throw new CliException($"option --validation-fraction: {validationFraction} is outside [0, 1]");
        return split?.ToLowerInvariant() switch
        {
            null or "all" => null,
            "train" => i => !TokenDataset.IsValidationDocument(i, validationFraction),
            "validation" => i => TokenDataset.IsValidationDocument(i, validationFraction),
            _ => throw new CliException($"option --split: '{split}' is not all, train or validation"),
        };
    }
}

using System.Globalization;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Training;
using Spectre.Console;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint train</c>: train a transformer from scratch (or resume a run), checkpointing in Hugging Face format.</summary>
public sealed class TrainCommand : Command
{
    private static readonly CliOption Config = new("config", "FILE", "training recipe (JSON, snake_case fields of TrainConfig); options below override it");
    private static readonly CliOption Out = new("out", "DIR", "run folder: tokenizer, tokenized data, checkpoints, metrics.jsonl, loss.svg (required)");
    private static readonly CliOption Resume = new("resume", null, "continue the run in --out from its latest checkpoint (exactly as if it never stopped)");
    private static readonly CliOption Init = new("init", "CHECKPOINT", "start a new run in --out from this checkpoint's weights and AdamW moments, with the recipe's own schedule (steps and tokens continue from the checkpoint's; same tokenizer, vocab and context required). It may also be an exported model folder (pinpoint export, or a Hugging Face folder of a trainable architecture): its weights start the run at step 0 with fresh AdamW moments. A Llama checkpoint smaller than the recipe (d_model, heads at the same head_dim, d_mlp, layers) is grown into the recipe's shape without changing its function: new weights that write into the residual start at zero, new layers are interleaved identity blocks, AdamW moments of new entries start at zero");
    private static readonly CliOption Corpus = new("corpus", "FILES", "comma-separated corpus files (.txt, .jsonl with a \"text\" field, WordNet .tsv)");
    private static readonly CliOption Steps = new("steps", "N", "optimizer steps");
    private static readonly CliOption BatchSize = new("batch-size", "N", "sequences per micro-batch");
    private static readonly CliOption LearningRate = new("lr", "X", "peak learning rate");
    private static readonly CliOption Seed = new("seed", "S", "seed for initialisation and data order");

    public override string Name => "train";
    public override string Summary => "train a GPT-2- or Llama-style model from scratch, or resume a run";
    public override IReadOnlyList<CliOption> Options { get; } = [Config, Out, Resume, Init, Corpus, Steps, BatchSize, LearningRate, Seed];
    public override Type ResultType => typeof(Result);

    public sealed record Result(string Out, int Step, long Tokens, double TrainLoss, double? ValLoss, double TokensPerSecond, string? Checkpoint);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var config = args.String(Config) is { } path ? TrainConfig.Load(path) : new TrainConfig();
        config = config with
        {
            Corpus = args.String(Corpus)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? config.Corpus,
            Steps = args.Int(Steps, config.Steps, min: 1),
            BatchSize = args.Int(BatchSize, config.BatchSize, min: 1),
            LearningRate = args.Float(LearningRate, config.LearningRate),
            Seed = args.Int(Seed, config.Seed),
            Init = args.String(Init) ?? config.Init,
        };
        if (args.String(Steps) is not null && config.WarmupSteps > config.Steps)
        {
            output.Note($"warm-up shortened from {config.WarmupSteps} to {config.Steps / 10} steps to fit --{Steps.Name} {config.Steps}");
            config = config with { WarmupSteps = config.Steps / 10 };
        }
        var outDir = args.RequiredString(Out);
        // The library refuses these too; here the message can name the option.
        bool resume = args.Flag(Resume);
        if (resume && args.String(Init) is not null)
            throw new CliException($"--{Init.Name} starts a new run and --{Resume.Name} continues one; give one of them");
        if (resume && !Trainer.HoldsRun(outDir))
            throw new IOException($"--{Resume.Name}: nothing to resume in {outDir} (no run there; drop --{Resume.Name} to start one)");
        if (!resume && Trainer.HoldsCheckpoints(outDir))
            throw new IOException($"--{Out.Name}: {outDir} already holds checkpoints; add --{Resume.Name} to continue that run or choose another folder");
        var log = output.Json ? null : (Action<string>)output.Text.WriteLine;
        using var trainer = Trainer.Open(config, outDir, resume, log, TrainingMetrics.Probe(config.Metrics));
        StepReport? last = null;
        string? lastCheckpoint = null;
        void Record(StepReport r)
        {
            last = r;
            lastCheckpoint = r.Checkpoint ?? lastCheckpoint;
        }

        if (output.Json) trainer.Run(Record);
        else if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected) RunWithProgressBar(trainer, config, Record);
        else trainer.Run(r =>
        {
            Record(r);
            if (r.ValidationLoss is not null || r.Checkpoint is not null) output.Text.WriteLine(Line(r));
        });

        if (last is null)
        {
            output.Text.WriteLine($"{outDir} already reached step {trainer.StartStep + trainer.Step} of {trainer.StartStep + config.Steps}; nothing to do");
            return 0;
        }
        var result = new Result(outDir, last.Step, last.Tokens,
            last.TrainLoss, last.ValidationLoss, last.TokensPerSecond, lastCheckpoint);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"done: {Line(last)}; metrics in {Path.Combine(outDir, Trainer.MetricsFile)}, curve in {Path.Combine(outDir, "loss.svg")}");
        return 0;
    }

    private static void RunWithProgressBar(Trainer trainer, TrainConfig config, Action<StepReport> record)
    {
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: trainer.StartStep + config.Steps);
                task.Value = trainer.StartStep + trainer.Step;
                trainer.Run(r =>
                {
                    record(r);
                    task.Value = r.Step;
                    task.Description = $"loss {r.TrainLoss:F3} · {r.TokensPerSecond:F0} tok/s";
                    if (r.ValidationLoss is not null || r.Checkpoint is not null) AnsiConsole.MarkupLine(Markup.Escape(Line(r)));
                });
            });
    }

    private static string Line(StepReport r)
    {
        var parts = new List<string>
        {
            $"step {r.Step}/{r.TotalSteps}",
            string.Create(CultureInfo.InvariantCulture, $"loss {r.TrainLoss:F4}"),
        };
        if (r.ValidationLoss is { } v) parts.Add(string.Create(CultureInfo.InvariantCulture, $"val {v:F4}"));
        parts.Add(string.Create(CultureInfo.InvariantCulture, $"lr {r.LearningRate:G3} · {r.TokensPerSecond:F0} tok/s"));
        if (r.Dynamics is { Count: > 0 } d) parts.Add(string.Join(" ", d.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F3}"))));
        if (r.Checkpoint is not null) parts.Add($"→ {r.Checkpoint}");
        return string.Join(" · ", parts);
    }
}

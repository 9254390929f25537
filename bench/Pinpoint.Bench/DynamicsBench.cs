using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Training;

namespace Pinpoint.Bench;

/// <summary>
/// <c>pinpoint dynamics</c> over a run of <see cref="Checkpoints"/> checkpoints of the embedded model's shape
/// (models/recipe-v2.json, Llama-style): attribution patching on every checkpoint for evals/articles.jsonl, ablation at the first,
/// middle and final one. Without <c>--run DIR</c> the run is made here: <see cref="Checkpoints"/> optimizer steps of
/// the recipe (batch 1, checkpoint every step) on ../shared/corpus/tinyshakespeare.txt with the embedded tokenizer —
/// real checkpoints of the right size, only briefly trained. Reports the wall time and the load average.
/// </summary>
public static class DynamicsBench
{
    public const int Checkpoints = 30;

    public static int Run(string[] args)
    {
        bool json = args.Contains("--json");
        int runAt = Array.IndexOf(args, "--run");
        var root = BenchPaths.RepoRoot();
        var dataset = Path.Combine(root, "evals", "articles.jsonl");
        string? made = null;
        try
        {
            string run;
            double trainSeconds = 0;
            if (runAt >= 0) run = args[runAt + 1];
            else
            {
                var clock = Stopwatch.StartNew();
                run = made = MakeRun(root);
                trainSeconds = clock.Elapsed.TotalSeconds;
            }
            var items = EvalDataset.ReadScoreItems(dataset);
            double? loadBefore = LoadAverage();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            // CPU seconds when the dataset is prepared (the counterfactual search, by the final checkpoint) and at the end of each checkpoint.
            var cpuAt = new List<double>();
            double CpuSeconds() => (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var report = DynamicsAnalysis.Run(run, new DynamicsOptions(items), warn: w => Console.Error.WriteLine($"bench: {w}"),
                progress: (phase, done, total) =>
                {
                    if (phase != "checkpoints") return;
                    cpuAt.Add(CpuSeconds());
                    Console.Error.Write($"\rbench: dynamics {done}/{total} checkpoints");
                });
            double seconds = sw.Elapsed.TotalSeconds;
            // CPU time hardly depends on other processes; wall time on a shared machine does.
            double cpuSeconds = CpuSeconds();
            var verified = report.Verification!.Select(v => v.Step).ToHashSet();
            var perCheckpoint = cpuAt.Skip(1).Select((t, i) => (Step: report.Checkpoints[i].Step, Cpu: t - cpuAt[i])).ToList();
            Console.Error.WriteLine();
            var result = new Dictionary<string, object?>
            {
                ["run"] = runAt >= 0 ? run : "synthetic (made by the bench)",
                ["checkpoints"] = report.Checkpoints.Count,
                ["dataset_items"] = items.Count,
                ["verified_steps"] = report.Verification!.Select(v => v.Step).ToArray(),
                ["dynamics_seconds"] = Math.Round(seconds, 1),
                ["seconds_per_checkpoint"] = Math.Round(seconds / report.Checkpoints.Count, 2),
                ["dynamics_cpu_seconds"] = Math.Round(cpuSeconds, 1),
                ["prepare_cpu_seconds"] = Math.Round(cpuAt[0], 1),
                ["patching_cpu_seconds_per_checkpoint"] = Math.Round(Median(perCheckpoint.Where(p => !verified.Contains(p.Step)).Select(p => p.Cpu)), 2),
                ["verified_checkpoint_cpu_seconds"] = perCheckpoint.Where(p => verified.Contains(p.Step)).Select(p => Math.Round(p.Cpu, 1)).ToArray(),
                ["make_run_seconds"] = Math.Round(trainSeconds, 1),
                ["load_average_before"] = loadBefore,
                ["load_average_after"] = LoadAverage(),
                ["cores"] = Environment.ProcessorCount,
            };
            Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = !json }));
            return 0;
        }
        finally
        {
            if (made is not null) Directory.Delete(made, recursive: true);
        }
    }

    /// <summary>A run of <see cref="Checkpoints"/> checkpoints of the recipe's model, one per optimizer step.</summary>
    private static string MakeRun(string root)
    {
        var recipe = TrainConfig.Load(Path.Combine(root, "models", "recipe-v2.json"));
        var config = recipe with
        {
            Steps = Checkpoints, BatchSize = 1, WarmupSteps = 1, CheckpointEvery = 1, EvalEvery = Checkpoints, EvalBatches = 1,
            Corpus = [BenchPaths.SharedFile("corpus/tinyshakespeare.txt", "the bench's training text")],
            Tokenizer = Path.Combine(root, "models", "default", "tokenizer.json"), Metrics = [],
        };
        var dir = Directory.CreateTempSubdirectory("pinpoint-bench-dynamics-").FullName;
        using var trainer = Trainer.Open(config, dir, resume: false);
        trainer.Run(r => Console.Error.Write($"\rbench: making the run, step {r.Step}/{r.TotalSteps}"));
        Console.Error.WriteLine();
        return dir;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The 1-minute load average (Linux), or null elsewhere.</summary>
    private static double? LoadAverage() =>
        File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture) : null;
}

using System.Diagnostics;
using System.Globalization;
using Pinpoint.Engine.Threading;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Loading;

namespace Pinpoint.Bench;

/// <summary>
/// SAE training tokens/s of the shipped recipe (models/sae-recipe.json: TopK, d_sae 1024, k 32, batches of 1,024
/// activations of the embedded model's width) on Gaussian activations, against the same SAE, batch and optimizer in
/// PyTorch on CPU (bench/sae_pytorch.py, alternating round by round); then harvest + train end to end as
/// <c>pinpoint sae train</c> runs it (embedded model, TinyStories windows, the recipe's shuffled buffer).
/// </summary>
public static class SaeBench
{
    private const int WarmupSteps = 2, Rounds = 5, StepsPerRound = 5, EndToEndSteps = 48;
    private const string Hook = "blocks.1.hook_resid_post";

    public static int Run(bool json)
    {
        var root = BenchPaths.RepoRoot();
        var recipePath = Path.Combine(root, "models", "sae-recipe.json");
        var recipe = SaeTrainConfig.Load(recipePath);
        using var loaded = ModelLoader.Load(Path.Combine(root, "models", "default"));
        int dIn = loaded.Model.Config.DModel;
        // No dead latents within the bench's steps (so no AuxK in either), no checkpoints, no metrics.
        var config = recipe with { DeadTokens = long.MaxValue, InitBatches = 1 };

        double ours = double.MaxValue, torch = double.MaxValue;
        string version;
        int threads;
        using (var trainer = new SaeTrainer(config, new GaussianBatches(dIn, config.Seed), new SaeMetadata { HookName = Hook }))
        using (var anchor = PythonAnchor.Start(root, "sae_pytorch.py",
                   ["--recipe", recipePath, "--d-in", $"{dIn}", "--threads", $"{WorkerPool.Concurrency}", "--warmup", $"{WarmupSteps}", "--steps", $"{StepsPerRound}"]))
        {
            version = anchor.Ready.GetProperty("torch").GetString()!;
            threads = anchor.Ready.GetProperty("threads").GetInt32();
            for (int i = 0; i < WarmupSteps; i++) trainer.TrainStep();
            for (int round = 0; round < Rounds; round++)
            {
                // Alternate so background load on the shared machine hits both alike; each side keeps its fastest step.
                for (int s = 0; s < StepsPerRound; s++)
                {
                    long start = Stopwatch.GetTimestamp();
                    trainer.TrainStep();
                    ours = Math.Min(ours, Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
                torch = Math.Min(torch, anchor.Round().GetProperty("step_s").GetDouble());
            }
        }
        double oursTps = config.BatchSize / ours, torchTps = config.BatchSize / torch;

        var corpus = BenchPaths.SharedFile("corpus/tinystories_sample.txt", "the end-to-end harvest");
        var clock = Stopwatch.StartNew();
        var windows = HarvestSources.Corpus(loaded, [corpus], config.Context).ToList();
        var harvester = new ActivationHarvester(loaded.Model, [Hook], HarvestPositions.Every);
        var activations = new HarvestedActivations(harvester, windows, config.BufferTokens, config.BatchSize, config.Seed, config.BufferReuse);
        using (var trainer = new SaeTrainer(config with { Steps = EndToEndSteps, InitBatches = recipe.InitBatches }, activations.ForHook(0, dIn), new SaeMetadata { HookName = Hook }))
            trainer.Run();
        double endToEnd = EndToEndSteps * (double)config.BatchSize / clock.Elapsed.TotalSeconds;
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";

        if (json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"pinpoint_tokens_per_s\":{oursTps:F1},\"pytorch_tokens_per_s\":{torchTps:F1},\"ratio\":{oursTps / torchTps:F3},\"end_to_end_tokens_per_s\":{endToEnd:F1},\"harvested_tokens\":{activations.HarvestedTokens},\"load_average\":{load}}}"));
            return 0;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"""
             SAE training step of {Path.GetRelativePath(root, recipePath)}: {config.Architecture}, d_in {dIn}, d_sae {config.DSae}, k {config.K}, batch {config.BatchSize}
             Pinpoint {WorkerPool.Concurrency} threads; PyTorch {version} CPU {threads} threads; fastest step of {Rounds}×{StepsPerRound} alternating, after {WarmupSteps} warm-up steps (load average {load})
                           tokens/s    step s
               Pinpoint  {oursTps,10:F0} {ours,9:F4}
               PyTorch   {torchTps,10:F0} {torch,9:F4}
               ratio     {oursTps / torchTps,10:F3}
             Harvest + train end to end ({Hook}, {EndToEndSteps} steps, {activations.HarvestedTokens:N0} tokens harvested into a {config.BufferTokens:N0}-token buffer used {config.BufferReuse}×): {endToEnd:F0} tokens/s
             """));
        return 0;
    }

    /// <summary>Standard normal activations; batch i depends only on (seed, i).</summary>
    private sealed class GaussianBatches(int dIn, int seed) : IActivationBatches
    {
        public int DIn => dIn;

        public void Fill(long index, int rows, Span<float> destination)
        {
            var rng = new Random(SeedMix.Of(seed, index));
            for (int i = 0; i < rows * dIn; i++)
                destination[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        }

        public void Dispose() { }
    }
}

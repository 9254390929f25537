using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;
using Pinpoint.Training;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Bench;

/// <summary>
/// Tokens/s of one training step (forward, backward, global-norm gradient clipping, AdamW) of the default model
/// recipe (models/recipe.json) on random token batches, against the same model and batch in PyTorch on CPU
/// (bench/train_pytorch.py, kept alive over stdin so the two alternate round by round).
/// </summary>
/// <remarks>
/// The step is <see cref="Trainer.TrainStep"/> itself: <see cref="Trainer.Run"/> also evaluates, checkpoints and
/// writes metrics, none of which belongs in a step time.
/// </remarks>
public static class TrainBench
{
    private const int WarmupSteps = 2;
    private const int Rounds = 5;
    private const int ProfiledSteps = 2;

    public static int Run(bool json)
    {
        var root = BenchPaths.RepoRoot();
        var recipePath = Path.Combine(root, "models", "recipe.json");
        var recipe = TrainConfig.Load(recipePath);
        var config = Trainer.ModelConfig(recipe, recipe.VocabSize, endOfText: null);

        using var ours = new PinpointStep(recipe, config);
        using var torch = PyTorchStep.Start(root, recipePath, recipe, config);

        for (int i = 0; i < WarmupSteps; i++) ours.Step();
        Phases bestOurs = Phases.Worst, bestTorch = Phases.Worst;
        for (int round = 0; round < Rounds; round++)
        {
            // Alternate so background load on the shared machine hits both alike.
            var o = ours.Step();
            if (o.Total < bestOurs.Total) bestOurs = o;
            var t = torch.Round();
            if (t.Total < bestTorch.Total) bestTorch = t;
        }

        int tokensPerStep = recipe.BatchSize * recipe.Context * recipe.GradAccumulation;
        double oursTps = tokensPerStep / bestOurs.Total, torchTps = tokensPerStep / bestTorch.Total;
        if (json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"pinpoint_tokens_per_s\":{oursTps:F1},\"pytorch_tokens_per_s\":{torchTps:F1},\"ratio\":{oursTps / torchTps:F3}}}"));
            return 0;
        }

        var profile = ours.ProfileBackward(ProfiledSteps);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"Training step of {Path.GetRelativePath(root, recipePath)}: {config.Architecture} d_model {config.DModel}, {config.NLayers} layers, {config.NHeads} heads, d_mlp {config.DMlp}, context {config.ContextLength}, vocab {config.VocabSize}, batch {recipe.BatchSize}×{recipe.GradAccumulation} ({tokensPerStep} tokens/step), {ours.ParameterCount / 1e6:F2}M parameters");
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"Pinpoint {WorkerPool.Concurrency} threads; PyTorch {torch.Version} CPU {torch.Threads} threads ({torch.Attention}); best of {Rounds} alternating rounds after {WarmupSteps} warm-up steps");
        sb.AppendLine("              tokens/s    step s   forward  backward  clip+AdamW");
        sb.AppendLine(Row("Pinpoint", oursTps, bestOurs));
        sb.AppendLine(Row("PyTorch", torchTps, bestTorch));
        sb.AppendLine(CultureInfo.InvariantCulture, $"  ratio     {oursTps / torchTps,10:F3}   (phase ratios Pinpoint/PyTorch: forward {bestOurs.Forward / bestTorch.Forward:F2}x, backward {bestOurs.Backward / bestTorch.Backward:F2}x, clip+AdamW {bestOurs.Optimizer / bestTorch.Optimizer:F2}x time)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Pinpoint backward by op (each recorded backward closure timed alone, mean of {ProfiledSteps} steps, {profile.Total:F3} s):");
        foreach (var (op, seconds, count) in profile.ByOp.Take(10))
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {op,-26} {seconds,8:F3} s {100 * seconds / profile.Total,5:F1}%  ({count} per step)");
        sb.AppendLine("Largest backward ops by shape:");
        foreach (var (op, seconds, count) in profile.ByShape.Take(8))
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {op,-60} {seconds,8:F3} s {100 * seconds / profile.Total,5:F1}%  ({count} per step)");
        Console.Write(sb.ToString());
        return 0;
    }

    private static string Row(string name, double tps, Phases p) => string.Create(CultureInfo.InvariantCulture,
        $"  {name,-10}{tps,10:F1} {p.Total,9:F3} {p.Forward,9:F3} {p.Backward,9:F3} {p.Optimizer,11:F3}");

    /// <summary>Seconds of one step by phase; forward includes the loss, the optimizer phase includes clipping.</summary>
    private readonly record struct Phases(double Forward, double Backward, double Optimizer)
    {
        public static readonly Phases Worst = new(double.MaxValue, 0, 0);
        public double Total => Forward + Backward + Optimizer;
    }

    /// <summary><see cref="Trainer.TrainStep"/> on random tokens, in a scratch run folder deleted on dispose.</summary>
    private sealed class PinpointStep : IDisposable
    {
        private readonly Trainer _trainer;
        private readonly string _runDir = Path.Combine(Path.GetTempPath(), "pinpoint-train-bench-" + Guid.NewGuid().ToString("N"));

        public long ParameterCount => _trainer.ParameterCount;

        public PinpointStep(TrainConfig recipe, TransformerConfig config)
        {
            // No probe metrics: Step never evaluates, and the recipe's score datasets need not exist here.
            _trainer = new Trainer(recipe with { Metrics = [] }, new RandomTokens(config.VocabSize), config.VocabSize, null, _runDir);
        }

        public Phases Step()
        {
            var step = _trainer.TrainStep();
            return new Phases(step.ForwardSeconds, step.BackwardSeconds, step.OptimizerSeconds);
        }

        public void Dispose()
        {
            _trainer.Dispose();
            Directory.Delete(_runDir, recursive: true);
        }

        /// <summary>
        /// Times each backward closure the tape runs (through the trainer's observer) over whole training steps,
        /// grouping by the op that recorded it.
        /// </summary>
        public (double Total, List<(string Op, double Seconds, int Count)> ByOp, List<(string Op, double Seconds, int Count)> ByShape) ProfileBackward(int steps)
        {
            var byOp = new Dictionary<string, (double Seconds, int Count)>();
            var byShape = new Dictionary<string, (double Seconds, int Count)>();
            double total = 0;
            _trainer.BackwardStepObserver = (action, elapsed) =>
            {
                double seconds = elapsed.TotalSeconds / steps;
                total += seconds;
                string op = OpName(action);
                Accumulate(byOp, op, seconds);
                Accumulate(byShape, op + " " + Shapes(action), seconds);
            };
            for (int s = 0; s < steps; s++) _trainer.TrainStep();
            _trainer.BackwardStepObserver = null;
            return (total, Sorted(byOp, steps), Sorted(byShape, steps));
        }

        private static void Accumulate(Dictionary<string, (double Seconds, int Count)> d, string key, double seconds)
        {
            d.TryGetValue(key, out var e);
            d[key] = (e.Seconds + seconds, e.Count + 1);
        }

        private static List<(string, double, int)> Sorted(Dictionary<string, (double Seconds, int Count)> d, int steps) =>
            d.OrderByDescending(e => e.Value.Seconds).Select(e => (e.Key, e.Value.Seconds, e.Value.Count / steps)).ToList();

        /// <summary>
    /// The op that recorded a backward closure: the ops are extension methods of one class, so the closure's
    /// compiler-generated name ("&lt;MatMul&gt;b__0") carries the method it was written in.
    /// </summary>
    private static string OpName(Action action)
    {
        var name = action.Method.Name;
        int close = name.IndexOf('>');
        return name.StartsWith('<') && close > 1 ? name[1..close] : action.Method.DeclaringType?.Name ?? name;
    }

    /// <summary>Shapes of the tensors a closure captured, to tell apart e.g. the unembedding matmul from the MLP's.</summary>
        private static string Shapes(Action action)
        {
            if (action.Target is null) return "";
            var shapes = action.Target.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                .Where(f => f.FieldType == typeof(Tensor))
                .Select(f => (f.GetValue(action.Target) as Tensor)?.ShapeString)
                .Where(s => s is not null);
            return string.Join("·", shapes);
        }
    }

    /// <summary>Uniform random tokens: the step time does not depend on the text.</summary>
    private sealed class RandomTokens(int vocabSize) : ITrainingData
    {
        public void FillTrainBatch(int seed, int step, int micro, int batch, int context, int[] inputs, int[] targets)
        {
            var random = new Random(HashCode.Combine(seed, step, micro));
            for (int r = 0; r < batch; r++)
            {
                int previous = random.Next(vocabSize);
                for (int i = 0; i < context; i++)
                {
                    int next = random.Next(vocabSize);
                    inputs[r * context + i] = previous;
                    targets[r * context + i] = next;
                    previous = next;
                }
            }
        }

        public void FillValidationBatch(int index, int batches, int batch, int context, int[] inputs, int[] targets) =>
            FillTrainBatch(-1, index, 0, batch, context, inputs, targets);

        public void Dispose() { }
    }

    /// <summary>bench/train_pytorch.py in --serve mode: one "round" line runs one timed step and answers one JSON line.</summary>
    private sealed class PyTorchStep : IDisposable
    {
        private readonly PythonAnchor _anchor;
        public string Version { get; }
        public int Threads { get; }
        public string Attention { get; }

        private PyTorchStep(PythonAnchor anchor)
        {
            _anchor = anchor;
            Version = anchor.Ready.GetProperty("torch").GetString()!;
            Threads = anchor.Ready.GetProperty("threads").GetInt32();
            Attention = anchor.Ready.GetProperty("attention").GetString()!;
        }

        public static PyTorchStep Start(string root, string recipePath, TrainConfig recipe, TransformerConfig c) => new(PythonAnchor.Start(root, "train_pytorch.py",
        [
            "--recipe", recipePath, "--d-model", $"{c.DModel}", "--layers", $"{c.NLayers}", "--heads", $"{c.NHeads}",
            "--d-mlp", $"{c.DMlp}", "--context", $"{recipe.Context}", "--vocab", $"{c.VocabSize}", "--batch", $"{recipe.BatchSize * recipe.GradAccumulation}",
            "--threads", $"{WorkerPool.Concurrency}", "--warmup", $"{WarmupSteps}", "--steps", "1", "--seed", $"{recipe.Seed}",
        ]));

        public Phases Round()
        {
            var r = _anchor.Round();
            return new Phases(r.GetProperty("forward_s").GetDouble(), r.GetProperty("backward_s").GetDouble(), r.GetProperty("optimizer_s").GetDouble());
        }

        public void Dispose() => _anchor.Dispose();
    }
}

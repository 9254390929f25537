using System.Diagnostics;
using System.Text.Json;
using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Editing;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Bench;

/// <summary>
/// The cost of editing the embedded model (issue #15's targets): C = E[kkᵀ] of one MLP layer's keys over N corpus tokens
/// (the TinyStories sample, repeated when N asks for more) against a plain forward of the same context windows
/// (target ≤ 2×), and one ROME edit with C given (target ≤ 10 s), best of 3 after a warm-up.
/// </summary>
public static class EditBench
{
    public const int DefaultTokens = 1_000_000;
    private const int Layer = 1;

    public static int Run(string[] args)
    {
        bool json = args.Contains("--json");
        int at = Array.IndexOf(args, "--tokens");
        int count = at < 0 ? DefaultTokens : int.TryParse(args[at + 1], out var n) && n > 0 ? n : throw new BenchSetupException($"--tokens '{args[at + 1]}' is not a positive integer");
        var root = BenchPaths.RepoRoot();
        var corpus = BenchPaths.SharedFile("corpus/tinystories_sample.txt", "the corpus of the key covariance");
        using var loaded = ModelLoader.Load(Path.Combine(root, "models", "default"));
        var text = loaded.Tokenizer.Encode(File.ReadAllText(corpus), false);
        var tokens = Enumerable.Range(0, count).Select(i => text[i % text.Length]).ToArray();
        var model = loaded.Model;
        int window = model.Config.ContextLength;

        var watch = Stopwatch.StartNew();
        var covariance = KeyCovariance.Estimate(model, [Layer], tokens)[Layer];
        double covarianceSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        for (int start = 0; start < tokens.Length; start += window)
            model.Forward(Compute.Eager, TokenBatch.Single(tokens.AsSpan(start, Math.Min(window, tokens.Length - start)).ToArray()));
        double forwardSeconds = watch.Elapsed.TotalSeconds;

        var edited = new HookedTransformer(model.Config, model.Weights.Copy());
        watch.Restart();
        var editor = new RomeEditor(loaded, edited, Layer, covariance, new RomeOptions());
        double setupSeconds = watch.Elapsed.TotalSeconds;
        var weight = edited.Weights.Blocks[Layer].Mlp!.Out.Weight;
        var pristine = weight.Clone();
        var request = new EditRequest("Lily", "{} had a pet", " frog");
        var editSeconds = BenchTiming.BestSeconds(3, () =>
        {
            editor.Edit(request);
            pristine.Span.CopyTo(weight.Span);
        })[0];

        var result = new
        {
            Model = "models/default",
            Layer,
            CorpusTokens = count,
            CovarianceSeconds = covarianceSeconds,
            ForwardSeconds = forwardSeconds,
            CovarianceOverForward = covarianceSeconds / forwardSeconds,
            RomeSetupSeconds = setupSeconds,
            RomeEditSeconds = editSeconds,
            LoadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : null,
        };
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = !json };
        Console.WriteLine(JsonSerializer.Serialize(result, options));
        return 0;
    }
}

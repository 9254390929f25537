using System.Globalization;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Editing;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint edit</c>: rank-one edits (ROME) of facts from a JSONL file, measured with CounterFact's metrics; optionally written as a new checkpoint.</summary>
public sealed class EditCommand : Command
{
    private static readonly CliOption Dataset = new("dataset", "FILE", "JSONL lines {\"subject\",\"prompt\",\"target_new\",\"paraphrases\":[..],\"neighbors\":[..]}; prompt and paraphrases hold {} for the subject (required)");
    private static readonly CliOption Method = new("method", "NAME", "rome (default: each item on its own) or memit (every item at once, several layers)");
    private static readonly CliOption Layer = new("layer", "L", "rome: the MLP layer whose output matrix is edited (default: 35% of the depth, rounded down)");
    private static readonly CliOption Layers = new("layers", "L,L,..", "memit: the MLP layers edited together (default: the rome layer and the one before, so z* is read where rome's v* works)");
    private static readonly CliOption UpdateWeight = new("update-weight", "λ", "memit: how many keys' worth the corpus covariance counts for against the new keys (default: 4 × the MLP width)");
    private static readonly CliOption ClampNorm = new("clamp-norm", "F", $"‖δ‖ is clamped to F times the norm of the activation it is added to (rome: the MLP output, default {RomeOptions.DefaultClampNorm}; memit: the residual, default {MemitOptions.DefaultClampNorm})");
    private static readonly CliOption Steps = new("steps", "N", $"Adam steps of the δ optimisation (default {RomeOptions.DefaultSteps})");
    private static readonly CliOption PromptWeight = new("prompt-weight", "W", $"share of the δ optimisation's NLL on the bare prompt, the rest shared by the prefixed templates (default {RomeOptions.DefaultPromptWeight}; 1/6 is ROME's equal share)");
    private static readonly CliOption Sequential = new("sequential", null, "apply the edits one after another to one model (default: each item on a fresh copy)");
    private static readonly CliOption Corpus = new("corpus", "FILE", "text whose MLP keys give C = E[kkᵀ] (cached per model, layer and corpus); without it C = I");
    private static readonly CliOption CovarianceTokens = new("covariance-tokens", "N", "corpus tokens C is estimated over (default 100000)");
    private static readonly CliOption CovarianceWindow = new("covariance-window", "N", "tokens per forward pass over the corpus for C (default: the context length); short windows count the keys of early positions, where short prompts put the subject, more often");
    private static readonly CliOption Limit = new("limit", "N", "only the first N items");
    private static readonly CliOption Seed = new("seed", "S", "seed of the generated context prefixes and of the fluency generations (default 0)");
    private static readonly CliOption Out = new("out", "DIR", "with --sequential: write the edited model as a Hugging Face folder (never the source; a new or empty folder unless --force)");
    private static readonly CliOption Force = new("force", null, "let --out write into a non-empty folder");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report (per-item table with probabilities before and after, the aggregate)");

    public override string Name => "edit";
    public override string Summary => "edit facts in the weights (ROME rank-one updates, MEMIT batches) and measure efficacy, generalisation, specificity, fluency and perplexity";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Dataset, Method, Layer, Layers, UpdateWeight, ClampNorm, Steps, PromptWeight, Sequential, Corpus, CovarianceTokens, CovarianceWindow, Limit, Seed, Out, Force, HtmlFile];
    public override Type ResultType => typeof(Result);

    /// <param name="Paraphrase">Share of paraphrases where the new target wins; null when the item has none.</param>
    /// <param name="Neighborhood">Share of neighbour prompts left as they were; null when the item has none.</param>
    /// <param name="TrueBefore">P(target_true) on the prompt before the edit; new_before, true_after and new_after alike.</param>
    /// <param name="OptimisedProbability">P(new) on the prompt with the optimised δ added (v* for rome, z* for memit), before any weight changes.</param>
    /// <param name="DeltaOverValue">‖δ‖ over the norm of the activation it is added to; <paramref name="Clamped"/> when it ended at the clamp.</param>
    /// <param name="PerplexityAfter">Perplexity on the reference text with this item's edit alone; null when every edit shares one model (--sequential, memit).</param>
    public sealed record ItemResult(string Subject, string Prompt, string TargetTrue, string TargetNew, bool Efficacy, double Magnitude, double? Paraphrase, double? Neighborhood,
        double TrueBefore, double NewBefore, double TrueAfter, double NewAfter, double Seconds,
        double OptimisedProbability, double DeltaOverValue, bool Clamped, int OptimisationSteps, double? PerplexityAfter);

    /// <param name="Layer">The edited layer (MEMIT: the last of <paramref name="Layers"/>, where its target residual is taken).</param>
    /// <param name="Covariance">"identity", or "corpus" with the number of tokens it was estimated over.</param>
    /// <param name="UpdateWeight">MEMIT's λ; null for ROME.</param>
    public sealed record Result(string Method, int Layer, int[] Layers, double? UpdateWeight, int Items, double EfficacyScore, double EfficacyMagnitude, double? ParaphraseScore, double? NeighborhoodScore, double Score,
        double FluencyBefore, double FluencyAfter, double PerplexityBefore, double PerplexityAfter, double SecondsPerEdit, string Covariance, ItemResult[] ItemResults, string? Out = null, string? Html = null);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var method = args.String(Method) ?? "rome";
        if (method is not ("rome" or "memit")) throw new CliException($"--{Method.Name} '{method}' is not available (available: rome, memit)");
        bool memit = method == "memit";
        var items = EditDataset.Read(args.RequiredString(Dataset));
        items = items.Take(args.Int(Limit, items.Count, min: 1)).ToList();
        bool sequential = args.Flag(Sequential);
        if (memit && sequential) throw new CliException($"--{Sequential.Name} is for rome; memit edits every item at once");
        if (!memit && (args.String(Layers) is not null || args.String(UpdateWeight) is not null))
            throw new CliException($"--{Layers.Name} and --{UpdateWeight.Name} are for --{Method.Name} memit");
        var outDir = args.String(Out);
        if (outDir is not null && !sequential && !memit) throw new CliException($"--{Out.Name} writes one model with every edit in it: add --{Sequential.Name} or use --{Method.Name} memit");
        if (outDir is not null && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !args.Flag(Force))
            throw new IOException($"--{Out.Name} {outDir} is not empty; give a new or empty folder, or --{Force.Name}");
        var corpus = args.String(Corpus);
        if (corpus is not null && !File.Exists(corpus)) throw new FileNotFoundException($"--{Corpus.Name}: {corpus} not found", corpus);
        int seed = args.Int(Seed, 0, min: 0);
        double? updateWeight = args.Double(UpdateWeight);
        double? clampNorm = args.Double(ClampNorm);
        if (clampNorm is not null && !(clampNorm > 0)) throw new CliException($"--{ClampNorm.Name} must be positive");
        int steps = args.Int(Steps, RomeOptions.DefaultSteps, min: 1);
        double? promptWeight = args.Double(PromptWeight);
        if (promptWeight is not null && !(promptWeight > 0 && promptWeight <= 1)) throw new CliException($"--{PromptWeight.Name} must be in (0, 1]");
        if (updateWeight is not null && !(updateWeight > 0)) throw new CliException($"--{UpdateWeight.Name} must be positive");
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);

        var progress = StderrProgress.Create();
        using var loaded = ModelOptions.Open(args);
        if (outDir is not null && Path.GetFullPath(outDir).TrimEnd('/') == Path.GetFullPath(loaded.Path).TrimEnd('/'))
            throw new IOException($"--{Out.Name} {outDir} is the source model; an edit never overwrites it");
        var config = loaded.Model.Config;
        int layer = args.Int(Layer, config.NLayers * 35 / 100, min: 0);
        var layers = memit ? args.IntList(Layers) ?? [Math.Max(layer - 1, 0), layer] : [layer];
        foreach (var l in layers)
            if (l < 0 || l >= config.NLayers)
                throw new ArgumentException($"--{(memit && args.String(Layers) is not null ? Layers.Name : Layer.Name)} {l} is out of range: the model has layers 0..{config.NLayers - 1}");
        layers = layers.Distinct().Order().ToArray();
        // Nothing reads the last block's MLP output at the subject's position but that position's own prediction.
        if (layers[^1] == config.NLayers - 1)
            output.Note($"layer {config.NLayers - 1} is the model's last: an edit there changes only the prediction right after the subject, so prompts that go on past the subject keep their answers");
        IReadOnlyDictionary<int, double[,]>? covariances = null;
        string covarianceName = "identity";
        // Read (and checked) even without --corpus, which alone gives them a use: a bad or orphaned value is an error, not ignored.
        int covarianceTokens = args.Int(CovarianceTokens, 100_000, min: 1);
        int window = args.Int(CovarianceWindow, config.ContextLength, min: 1, max: config.ContextLength);
        if (corpus is null && (args.String(CovarianceTokens) ?? args.String(CovarianceWindow)) is not null)
            throw new CliException($"--{CovarianceTokens.Name} and --{CovarianceWindow.Name} need --{Corpus.Name} (the text C is computed over)");
        if (corpus is not null)
        {
            var tokens = loaded.Tokenizer.Encode(File.ReadAllText(corpus), false).Take(covarianceTokens).ToArray();
            covariances = KeyCovariance.Cached(loaded, layers, tokens, KeyCovariance.DefaultCacheFolder, progress is null ? null : (done, total) => progress("covariance tokens", done, total), window);
            covarianceName = $"corpus ({tokens.Length} tokens{(window < config.ContextLength ? $", windows of {window}" : "")})";
        }
        var options = new EditEvaluationOptions
        {
            Layer = layer, Sequential = sequential, Covariances = covariances, Rome = new RomeOptions { Seed = seed, Steps = steps, ClampNorm = clampNorm ?? RomeOptions.DefaultClampNorm, PromptWeight = promptWeight ?? RomeOptions.DefaultPromptWeight },
            Memit = memit ? new MemitOptions { Layers = layers, UpdateWeight = updateWeight, ClampNorm = clampNorm ?? MemitOptions.DefaultClampNorm } : null,
        };
        var report = EditEvaluation.Run(loaded, items, options, progress);
        if (outDir is not null)
        {
            if (ArchitectureRegistry.ByName(config.Architecture, loaded.Path) is not ITrainableArchitecture architecture)
                throw new NotSupportedException($"{loaded.Path}: writing '{config.Architecture}' models is not supported (supported: gpt2, llama)");
            var tokenizerJson = args.String(ModelOptions.Tokenizer) ?? TokenizerDiscovery.Find(loaded.Path);
            HfCheckpoint.Write(outDir, architecture, config, report.Edited.Weights, tokenizerJson.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? tokenizerJson : null, DType.F32);
        }
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, EditHtmlReport.Render(report, covarianceName));
        var result = new Result(report.Method, report.Layers[^1], report.Layers.ToArray(), report.UpdateWeight, report.Items, report.EfficacyScore, report.EfficacyMagnitude,
            Known(report.ParaphraseScore), Known(report.NeighborhoodScore), report.Score,
            report.FluencyBefore, report.FluencyAfter, report.PerplexityBefore, report.PerplexityAfter, report.SecondsPerEdit, covarianceName,
            report.ItemResults.Select(r => new ItemResult(r.Subject, r.Prompt, r.TargetTrue, r.TargetNew, r.Efficacy, r.Magnitude, Known(r.Paraphrase), Known(r.Neighborhood),
                r.TrueBefore, r.NewBefore, r.TrueAfter, r.NewAfter, r.Seconds,
                r.OptimisedProbability, r.DeltaOverValue, r.Clamped, r.OptimisationSteps, Known(r.PerplexityAfter))).ToArray(), outDir, htmlPath);
        if (output.Json) output.WriteJson(result);
        else Render(result, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static string Share(double? value) => value is { } v ? CommandOutput.Number(v, "P1") : "none";

    /// <summary>NaN (nothing to measure) as JSON null.</summary>
    private static double? Known(double value) => double.IsNaN(value) ? null : value;

    private static void Render(Result r, CommandOutput output)
    {
        var table = CommandOutput.NewTable("subject", "target true", "target new", "P(true) before → after", "P(new) before → after", "efficacy", "paraphrase", "neighbourhood");
        foreach (var i in r.ItemResults)
            CommandOutput.AddRow(table, i.Subject, CommandOutput.Quote(i.TargetTrue), CommandOutput.Quote(i.TargetNew),
                $"{CommandOutput.Number(i.TrueBefore)} → {CommandOutput.Number(i.TrueAfter)}", $"{CommandOutput.Number(i.NewBefore)} → {CommandOutput.Number(i.NewAfter)}",
                i.Efficacy ? "yes" : "no", Share(i.Paraphrase), Share(i.Neighborhood));
        output.Write(table);
        output.WriteProperties(
        [
            ("method", $"{r.Method}, layer{(r.Layers.Length > 1 ? "s " + string.Join(",", r.Layers) + $", λ {r.UpdateWeight}" : " " + r.Layer)}, C = {r.Covariance}"), ("items", CommandOutput.Int(r.Items)),
            ("efficacy score", CommandOutput.Number(r.EfficacyScore, "P1")), ("efficacy magnitude", CommandOutput.Number(r.EfficacyMagnitude)),
            ("paraphrase score", Share(r.ParaphraseScore)), ("neighbourhood score", Share(r.NeighborhoodScore)),
            ("score (harmonic mean)", CommandOutput.Number(r.Score, "P1")),
            ("fluency (n-gram entropy) before → after", $"{CommandOutput.Number(r.FluencyBefore)} → {CommandOutput.Number(r.FluencyAfter)}"),
            ("perplexity before → after", $"{CommandOutput.Number(r.PerplexityBefore)} → {CommandOutput.Number(r.PerplexityAfter)}"),
            ("seconds per edit", CommandOutput.Number(r.SecondsPerEdit, "F2")),
        ]);
        if (r.Out is not null) output.Text.WriteLine($"edited model written to {r.Out}");
    }
}

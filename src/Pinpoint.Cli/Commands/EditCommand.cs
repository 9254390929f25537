using System.Globalization;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Editing;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint edit</c>: rank-one edits (ROME) of facts from a JSONL file, measured with CounterFact's metrics; optionally written as a new checkpoint.</summary>
public sealed class EditCommand : Command
{
    private static readonly CliOption Dataset = new("dataset", "FILE", "JSONL lines {\"subject\",\"prompt\",\"target_new\",\"paraphrases\":[..],\"neighbors\":[..]}; prompt and paraphrases hold {} for the subject (required)");
    private static readonly CliOption Method = new("method", "NAME", "rome (the default and only method so far)");
    private static readonly CliOption Layer = new("layer", "L", "the MLP layer whose output matrix is edited (default: 35% of the depth, rounded down)");
    private static readonly CliOption Sequential = new("sequential", null, "apply the edits one after another to one model (default: each item on a fresh copy)");
    private static readonly CliOption Corpus = new("corpus", "FILE", "text whose MLP keys give C = E[kkᵀ] (cached per model, layer and corpus); without it C = I");
    private static readonly CliOption CovarianceTokens = new("covariance-tokens", "N", "corpus tokens C is estimated over (default 100000)");
    private static readonly CliOption Limit = new("limit", "N", "only the first N items");
    private static readonly CliOption Seed = new("seed", "S", "seed of the generated context prefixes and of the fluency generations (default 0)");
    private static readonly CliOption Out = new("out", "DIR", "with --sequential: write the edited model as a Hugging Face folder (never the source; a new or empty folder unless --force)");
    private static readonly CliOption Force = new("force", null, "let --out write into a non-empty folder");

    public override string Name => "edit";
    public override string Summary => "edit facts in the weights (ROME rank-one updates) and measure efficacy, generalisation, specificity, fluency and perplexity";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Dataset, Method, Layer, Sequential, Corpus, CovarianceTokens, Limit, Seed, Out, Force];
    public override Type ResultType => typeof(Result);

    /// <param name="Paraphrase">Share of paraphrases where the new target wins; null when the item has none.</param>
    /// <param name="Neighborhood">Share of neighbour prompts left as they were; null when the item has none.</param>
    public sealed record ItemResult(string Subject, string TargetTrue, string TargetNew, bool Efficacy, double Magnitude, double? Paraphrase, double? Neighborhood, double Seconds);

    /// <param name="Covariance">"identity", or "corpus" with the number of tokens it was estimated over.</param>
    public sealed record Result(string Method, int Layer, int Items, double EfficacyScore, double EfficacyMagnitude, double? ParaphraseScore, double? NeighborhoodScore, double Score,
        double FluencyBefore, double FluencyAfter, double PerplexityBefore, double PerplexityAfter, double SecondsPerEdit, string Covariance, ItemResult[] ItemResults, string? Out = null);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var method = args.String(Method) ?? "rome";
        if (method != "rome") throw new CliException($"--{Method.Name} '{method}' is not available (available: rome)");
        var items = EditDataset.Read(args.RequiredString(Dataset));
        items = items.Take(args.Int(Limit, items.Count, min: 1)).ToList();
        bool sequential = args.Flag(Sequential);
        var outDir = args.String(Out);
        if (outDir is not null && !sequential) throw new CliException($"--{Out.Name} writes one model with every edit in it: add --{Sequential.Name}");
        if (outDir is not null && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !args.Flag(Force))
            throw new IOException($"--{Out.Name} {outDir} is not empty; give a new or empty folder, or --{Force.Name}");
        var corpus = args.String(Corpus);
        if (corpus is not null && !File.Exists(corpus)) throw new FileNotFoundException($"--{Corpus.Name}: {corpus} not found", corpus);
        int seed = args.Int(Seed, 0, min: 0);

        var progress = StderrProgress.Create();
        using var loaded = ModelOptions.Open(args);
        if (outDir is not null && Path.GetFullPath(outDir).TrimEnd('/') == Path.GetFullPath(loaded.Path).TrimEnd('/'))
            throw new IOException($"--{Out.Name} {outDir} is the source model; an edit never overwrites it");
        var config = loaded.Model.Config;
        int layer = args.Int(Layer, config.NLayers * 35 / 100, min: 0);
        if (layer >= config.NLayers) throw new ArgumentException($"--{Layer.Name} {layer} is out of range: the model has layers 0..{config.NLayers - 1}");
        double[,]? covariance = null;
        string covarianceName = "identity";
        if (corpus is not null)
        {
            var tokens = loaded.Tokenizer.Encode(File.ReadAllText(corpus), false).Take(args.Int(CovarianceTokens, 100_000, min: 1)).ToArray();
            covariance = KeyCovariance.Cached(loaded, layer, tokens, KeyCovariance.DefaultCacheFolder, progress is null ? null : (done, total) => progress("covariance tokens", done, total));
            covarianceName = $"corpus ({tokens.Length} tokens)";
        }
        var options = new EditEvaluationOptions { Layer = layer, Sequential = sequential, Covariance = covariance, Rome = new RomeOptions { Seed = seed } };
        var report = EditEvaluation.Run(loaded, items, options, progress);
        if (outDir is not null)
        {
            if (ArchitectureRegistry.ByName(config.Architecture, loaded.Path) is not ITrainableArchitecture architecture)
                throw new NotSupportedException($"{loaded.Path}: writing '{config.Architecture}' models is not supported (supported: gpt2, llama)");
            var tokenizerJson = args.String(ModelOptions.Tokenizer) ?? TokenizerDiscovery.Find(loaded.Path);
            HfCheckpoint.Write(outDir, architecture, config, report.Edited.Weights, tokenizerJson.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? tokenizerJson : null, DType.F32);
        }
        var result = new Result(report.Method, report.Layer, report.Items, report.EfficacyScore, report.EfficacyMagnitude, Known(report.ParaphraseScore), Known(report.NeighborhoodScore), report.Score,
            report.FluencyBefore, report.FluencyAfter, report.PerplexityBefore, report.PerplexityAfter, report.SecondsPerEdit, covarianceName,
            report.ItemResults.Select(r => new ItemResult(r.Subject, r.TargetTrue, r.TargetNew, r.Efficacy, r.Magnitude, Known(r.Paraphrase), Known(r.Neighborhood), r.Seconds)).ToArray(), outDir);
        if (output.Json) output.WriteJson(result);
        else Render(result, output);
        return 0;
    }

    private static string Share(double? value) => value is { } v ? CommandOutput.Number(v, "P1") : "none";

    /// <summary>NaN (nothing to measure) as JSON null.</summary>
    private static double? Known(double value) => double.IsNaN(value) ? null : value;

    private static void Render(Result r, CommandOutput output)
    {
        var table = CommandOutput.NewTable("subject", "target true", "target new", "efficacy", "P(new) − P(true)", "paraphrase", "neighbourhood");
        foreach (var i in r.ItemResults)
            CommandOutput.AddRow(table, i.Subject, CommandOutput.Quote(i.TargetTrue), CommandOutput.Quote(i.TargetNew), i.Efficacy ? "yes" : "no",
                CommandOutput.Number(i.Magnitude), Share(i.Paraphrase), Share(i.Neighborhood));
        output.Write(table);
        output.WriteProperties(
        [
            ("method", $"{r.Method}, layer {r.Layer}, C = {r.Covariance}"), ("items", CommandOutput.Int(r.Items)),
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

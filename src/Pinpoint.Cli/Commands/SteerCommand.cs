using System.Globalization;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Interpretability.Steering;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli.Commands;

/// <summary>
/// <c>pinpoint steer</c>: a steering vector swept over coefficients (generations, effect on the concept's tokens, cost in
/// perplexity and KL), or, for an <c>ablate</c> spec with <c>--out</c>, the ablation baked into a new checkpoint.
/// </summary>
public sealed class SteerCommand : Command
{
    private static readonly CliOption Vector = new("vector", "SPEC", "the steering vector (required); grammar: " + SteeringSpec.Grammar);
    private static readonly CliOption Prompt = new("prompt", "TEXT", "the prompt to continue and to measure the concept's tokens after (required for a sweep)");
    private static readonly CliOption Coefficients = new("coefficients", "C,C,..", "coefficients to sweep (default -8,-4,0,4,8); they replace the spec's coef");
    private static readonly CliOption MaxNewTokens = new("max-new-tokens", "N", "tokens generated per coefficient (default 24)", 'n');
    private static readonly CliOption Seed = new("seed", "S", "sampling seed, the same for every coefficient (default 0; temperature 0.8, top-k 40)");
    private static readonly CliOption Concept = new("concept", "TEXT", "a text whose first token is the concept's own token (repeatable; default: the plus text's tokens, or the vector's top 5 unembedding tokens)", Repeatable: true);
    private static readonly CliOption Reference = new("reference", "FILE", "text file on which the perplexity cost is measured (default: a built-in story paragraph)");
    private static readonly CliOption Neutral = new("neutral", "FILE", "neutral prompts, one per line, for the KL cost (default: 8 built-in prompts)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write the sweep as a self-contained HTML page (effect and cost charts, generations)");
    private static readonly CliOption Out = new("out", "DIR", "with an ablate spec: write the model with the direction orthogonalised out of its weights as a Hugging Face folder (a new or empty folder)");

    public override string Name => "steer";
    public override string Summary => "sweep a steering vector over coefficients (generations, effect, perplexity and KL cost), or bake a directional ablation into a checkpoint";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Vector, Prompt, Coefficients, MaxNewTokens, Seed, Concept, Reference, Neutral, HtmlFile, Out];
    public override Type ResultType => typeof(Result);
    public override IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [("an ablate spec and --out", typeof(BakeResult))];

    public sealed record Point(double Coefficient, string Text, int[] Ids, double ConceptLogitShift, double ConceptLogprobShift, double Perplexity, double NeutralKl);

    /// <param name="Html">Full path of the HTML report, when <c>--html</c> asked for one.</param>
    public sealed record Result(string Vector, string Hook, double VectorNorm, string Positions, string Prompt, string[] ConceptTokens, double BasePerplexity, int Seed, Point[] Points, string? Html = null);

    /// <param name="MaxLogitDifference">Largest |logit| difference on the prompt (or a fixed text) between the ablation hooks and the written weights.</param>
    public sealed record BakeResult(string Vector, string Out, long Parameters, double MaxLogitDifference);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var spec = SteeringSpec.Parse(args.RequiredString(Vector));
        if (spec.Ablate) return Bake(args, output, spec);
        if (args.String(Out) is not null) throw new CliException($"--{Out.Name} writes a directional ablation into the weights; it needs an ablate spec");
        var prompt = args.RequiredString(Prompt);
        var coefficients = ParseCoefficients(args.String(Coefficients));
        int seed = args.Int(Seed, 0, min: 0);
        var defaults = new SteeringSweepOptions();
        var options = defaults with
        {
            Coefficients = coefficients,
            MaxNewTokens = args.Int(MaxNewTokens, defaults.MaxNewTokens, min: 1),
            Sampling = defaults.Sampling with { Seed = seed },
            ConceptTokens = args.Strings(Concept) is { Count: > 0 } concept ? concept : null,
            ReferenceText = args.String(Reference) is { } reference ? ReadText(reference) : defaults.ReferenceText,
            NeutralPrompts = args.String(Neutral) is { } neutral ? ReadLines(neutral) : defaults.NeutralPrompts,
        };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args);
        var report = SteeringSweep.Run(loaded, spec, prompt, options, Progress);
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, SteeringHtmlReport.Render(report));
        var result = new Result(report.Spec, report.Hook, report.VectorNorm, report.Positions, report.Prompt, report.ConceptTokens, report.BasePerplexity, seed,
            report.Points.Select(p => new Point(p.Coefficient, p.Generation, p.GeneratedIds, p.ConceptLogitShift, p.ConceptLogProbShift, p.Perplexity, p.NeutralKl)).ToArray(),
            htmlPath);
        if (output.Json) output.WriteJson(result);
        else Render(result, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static int Bake(CliArgs args, CommandOutput output, SteeringSpec spec)
    {
        var outDir = args.String(Out) ?? throw new CliException($"an ablate spec is baked into a checkpoint: give --{Out.Name} DIR (use --steer on run, generate, score or explain to ablate without writing)");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new IOException($"--{Out.Name} {outDir} is not empty; give a new or empty folder");
        using var loaded = ModelOptions.Open(args);
        if (Path.GetFullPath(outDir) == Path.GetFullPath(loaded.Path)) throw new IOException($"--{Out.Name} {outDir} is the source model; write elsewhere");
        var ablation = (DirectionalAblation)spec.Build(loaded);
        var config = loaded.Model.Config;
        if (ArchitectureRegistry.ByName(config.Architecture, loaded.Path) is not ITrainableArchitecture architecture)
            throw new NotSupportedException($"{loaded.Path}: writing '{config.Architecture}' models is not supported (supported: gpt2, llama)");
        var tokenizerJson = args.String(ModelOptions.Tokenizer) ?? TokenizerDiscovery.Find(loaded.Path);
        var weights = ablation.Orthogonalize(loaded.Model.Weights);
        HfCheckpoint.Write(outDir, architecture, config, weights, tokenizerJson.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? tokenizerJson : null, DType.F32);

        var ids = loaded.Encode(args.String(Prompt) ?? "Once upon a time, there was a little girl.");
        loaded.Model.Interventions.Add(ablation);
        var hooked = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
        var baked = new HookedTransformer(config, weights).Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
        var result = new BakeResult(spec.Text, outDir, loaded.Model.ParameterCount, hooked.Zip(baked).Max(p => Math.Abs((double)p.First - p.Second)));
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"wrote {outDir}: the direction is orthogonalised out of the embedding, position embedding, every attention and MLP output (max |Δlogit| vs the ablation hooks {result.MaxLogitDifference:G3})");
        return 0;
    }

    private static void Render(Result r, CommandOutput output)
    {
        output.WriteProperties(
        [
            ("vector", r.Vector), ("hook", r.Hook), ("vector norm", CommandOutput.Number(r.VectorNorm)), ("positions", r.Positions),
            ("concept tokens", string.Join(" ", r.ConceptTokens.Select(CommandOutput.Quote))), ("perplexity (unsteered)", CommandOutput.Number(r.BasePerplexity)),
        ]);
        var table = CommandOutput.NewTable("coef", "concept logit Δ", "concept log-prob Δ", "perplexity", "neutral KL", "generation");
        foreach (var p in r.Points)
            CommandOutput.AddRow(table, CommandOutput.Number(p.Coefficient, "G4"), CommandOutput.Number(p.ConceptLogitShift), CommandOutput.Number(p.ConceptLogprobShift),
                CommandOutput.Number(p.Perplexity), CommandOutput.Number(p.NeutralKl, "F4"), CommandOutput.Quote(p.Text));
        output.Write(table);
    }

    private static float[] ParseCoefficients(string? text)
    {
        if (text is null) return new SteeringSweepOptions().Coefficients;
        var values = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v)
                ? v
                : throw new CliException($"option --{Coefficients.Name}: '{p}' is not a number"))
            .ToArray();
        return values.Length > 0 ? values : throw new CliException($"option --{Coefficients.Name} lists no numbers");
    }

    private static string ReadText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--{Reference.Name}: {path} not found", path);
        var text = File.ReadAllText(path);
        return text.Trim().Length > 0 ? text : throw new InvalidDataException($"--{Reference.Name}: {path} is empty");
    }

    private static IReadOnlyList<string> ReadLines(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--{Neutral.Name}: {path} not found", path);
        var lines = File.ReadLines(path).Where(l => l.Trim().Length > 0).ToList();
        return lines.Count > 0 ? lines : throw new InvalidDataException($"--{Neutral.Name}: {path} has no prompts");
    }

    /// <summary>Long work shows progress on stderr when it is a terminal.</summary>
    private static void Progress(string step)
    {
        if (!Console.IsErrorRedirected) Console.Error.WriteLine($"steer: {step}");
    }
}

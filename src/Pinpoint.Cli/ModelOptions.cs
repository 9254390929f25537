using Pinpoint.Interpretability.Steering;
using Pinpoint.Models.Loading;

namespace Pinpoint.Cli;

/// <summary>The <c>--model</c>, <c>--tokenizer</c> (and, where a command offers it, <c>--steer</c>) options, and opening the model they name.</summary>
public static class ModelOptions
{
    public static readonly CliOption Model = new("model", "PATH", "model: a Hugging Face folder, a .gguf file or a llama2.c .bin (default: the embedded model)");
    public static readonly CliOption Tokenizer = new("tokenizer", "PATH", "tokenizer to use instead of the model's own: a tokenizer.json, SentencePiece model, llama2.c tokenizer or GGUF file (recognised by content)");
    public static readonly CliOption AllowNonFinite = new("allow-nonfinite", null, "load weights that hold NaN or infinity (a warning naming each tensor instead of an error)");
    public static readonly CliOption Steer = new("steer", "SPEC",
        "add a steering vector or directional ablation to every forward pass (repeatable), e.g. hook=blocks.2.hook_resid_pre,plus=\" happy\",minus=\" sad\",coef=4; " +
        "grammar: " + SteeringSpec.Grammar, Repeatable: true);

    public static IReadOnlyList<CliOption> All { get; } = [Model, Tokenizer, AllowNonFinite];

    /// <summary>The model that ships with Pinpoint (models/default in the repository, copied beside the executable).</summary>
    public static string DefaultModelPath { get; } = Path.Combine(AppContext.BaseDirectory, "models", "default");

    /// <summary>Opens the model, with the <c>--steer</c> specs attached (they are parsed first, so a bad spec fails before loading).</summary>
    /// <param name="output">Where warnings about the weights go (stderr); the process's stderr when null.</param>
    public static LoadedModel Open(CliArgs args, CommandOutput? output = null)
    {
        var steering = args.Strings(Steer).Select(SteeringSpec.Parse).ToList();
        var path = args.String(Model) ?? (Directory.Exists(DefaultModelPath)
            ? DefaultModelPath
            : throw new FileNotFoundException($"no --model given and the embedded default model is missing at {DefaultModelPath}"));
        Action<NonFiniteWeight>? onNonFinite = args.Flag(AllowNonFinite)
            ? bad => (output ?? new CommandOutput(Console.Out, json: false)).Note($"{bad}; loading anyway (--{AllowNonFinite.Name})")
            : null;
        var loaded = ModelLoader.Load(path, args.String(Tokenizer), onNonFinite);
        try
        {
            foreach (var intervention in steering.Select(s => s.Build(loaded)).ToList()) loaded.Model.Interventions.Add(intervention);
            return loaded;
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }
}

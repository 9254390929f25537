using Pinpoint.Models.Loading;

namespace Pinpoint.Cli;

/// <summary>The <c>--model</c> and <c>--tokenizer</c> options every model command shares, and opening the model they name.</summary>
public static class ModelOptions
{
    public static readonly CliOption Model = new("model", "PATH", "model: a Hugging Face folder, a .gguf file or a llama2.c .bin (default: the embedded model)");
    public static readonly CliOption Tokenizer = new("tokenizer", "PATH", "tokenizer.json, SentencePiece .model or llama2.c .bin to use instead of the model's own");

    public static IReadOnlyList<CliOption> All { get; } = [Model, Tokenizer];

    /// <summary>The model that ships with Pinpoint (models/default in the repository, copied beside the executable).</summary>
    public static string DefaultModelPath { get; } = Path.Combine(AppContext.BaseDirectory, "models", "default");

    public static LoadedModel Open(CliArgs args)
    {
        var path = args.String(Model) ?? (Directory.Exists(DefaultModelPath)
            ? DefaultModelPath
            : throw new FileNotFoundException($"no --model given and the embedded default model is missing at {DefaultModelPath}"));
        return ModelLoader.Load(path, args.String(Tokenizer));
    }
}

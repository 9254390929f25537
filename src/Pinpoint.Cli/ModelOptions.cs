using Pinpoint.Models.Loading;

namespace Pinpoint.Cli;

/// <summary>The <c>--model</c> and <c>--tokenizer</c> options every model command shares, and opening the model they name.</summary>
public static class ModelOptions
{
    public static readonly CliOption Model = new("model", "PATH", "model: a Hugging Face folder, a .gguf file or a llama2.c .bin (required)");
    public static readonly CliOption Tokenizer = new("tokenizer", "PATH", "tokenizer.json, SentencePiece .model or llama2.c .bin to use instead of the model's own");

    public static IReadOnlyList<CliOption> All { get; } = [Model, Tokenizer];

    public static LoadedModel Open(CliArgs args) => ModelLoader.Load(args.RequiredString(Model), args.String(Tokenizer));
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Cli.Commands;

/// <summary>
/// <c>pinpoint export</c>: rewrite any model Pinpoint reads as a Hugging Face folder, optionally in 16-bit (e.g. a
/// training checkpoint → bf16). The tokenizer goes along as a tokenizer.json, converted when it was a SentencePiece,
/// llama2.c or GGUF one.
/// </summary>
public sealed class ExportCommand : Command
{
    private static readonly CliOption Out = new("out", "DIR", "folder to write config.json, model.safetensors, tokenizer.json and tokenizer_config.json into (required; must be new or empty)");
    private static readonly CliOption Dtype = new("dtype", "TYPE", "stored weight type: f32, f16 or bf16 (default bf16)");
    private static readonly CliOption Force = new("force", null, "replace --out even when it holds files");

    public override string Name => "export";
    public override string Summary => "write a model (HF folder, .gguf or llama2.c .bin) as a Hugging Face folder (f32, f16 or bf16)";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Out, Dtype, Force];
    public override Type ResultType => typeof(Result);

    public sealed record Result(string Out, string Architecture, string Dtype, long Parameters, long Bytes);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var outDir = Path.GetFullPath(args.RequiredString(Out));
        var dtypeName = args.String(Dtype) ?? "bf16";
        var dtype = dtypeName switch
        {
            "f32" => DType.F32,
            "f16" => DType.F16,
            "bf16" => DType.BF16,
            _ => throw new CliException($"--dtype must be f32, f16 or bf16, not '{dtypeName}'"),
        };
        // Checked before the model loads: refusing must be quick and must not touch the folder.
        if (File.Exists(outDir)) throw new IOException($"--{Out.Name}: {outDir} is a file, not a folder");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !args.Flag(Force))
            throw new IOException($"--{Out.Name}: {outDir} is not empty; choose a new folder or add --{Force.Name} to replace it");
        using var loaded = ModelOptions.Open(args, output);
        var config = loaded.Model.Config with
        {
            BosTokenId = loaded.Model.Config.BosTokenId ?? loaded.Tokenizer.Bos,
            EosTokenId = loaded.Model.Config.EosTokenId ?? loaded.Tokenizer.Eos,
        };
        if (ArchitectureRegistry.ByName(config.Architecture, loaded.Path) is not ITrainableArchitecture architecture)
            throw new NotSupportedException($"{loaded.Path}: exporting '{config.Architecture}' models is not supported (supported: gpt2, llama)");
        var tokenizerFile = OriginalTokenizerJson(args, loaded.Path);
        AtomicFolder.Write(outDir, replace: true, folder =>
        {
            if (tokenizerFile is null)
            {
                tokenizerFile = Path.Combine(folder, "tokenizer.json");
                AtomicFile.Write(tokenizerFile, stream => TokenizerJson.Write(loaded.Tokenizer, stream));
            }
            HfCheckpoint.Write(folder, architecture, config, loaded.Model.Weights, tokenizerFile, dtype);
        });
        long bytes = Directory.EnumerateFiles(outDir).Sum(f => new FileInfo(f).Length);
        var result = new Result(outDir, config.Architecture, dtypeName, loaded.Model.ParameterCount, bytes);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"wrote {outDir}: {config.Architecture}, {result.Parameters:N0} parameters as {dtypeName}, {bytes / 1e6:F1} MB");
        return 0;
    }

    /// <summary>The tokenizer.json file the model uses as it is (copied with its tokenizer_config.json), or null when the tokenizer must be converted.</summary>
    private static string? OriginalTokenizerJson(CliArgs args, string modelPath)
    {
        var path = args.String(ModelOptions.Tokenizer) ?? TokenizerDiscovery.Find(modelPath);
        return FileKinds.Detect(path) == FileKind.HfTokenizerJson ? path : null;
    }
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint export</c>: rewrite a model as a Hugging Face folder, optionally in 16-bit (e.g. a training checkpoint → bf16).</summary>
public sealed class ExportCommand : Command
{
    private static readonly CliOption Out = new("out", "DIR", "folder to write config.json, model.safetensors and tokenizer.json into (required)");
    private static readonly CliOption Dtype = new("dtype", "TYPE", "stored weight type: f32, f16 or bf16 (default bf16)");

    public override string Name => "export";
    public override string Summary => "write a model as a Hugging Face folder (f32, f16 or bf16)";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Out, Dtype];
    public override Type ResultType => typeof(Result);

    public sealed record Result(string Out, string Architecture, string Dtype, long Parameters, long Bytes);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var outDir = args.RequiredString(Out);
        var dtypeName = args.String(Dtype) ?? "bf16";
        var dtype = dtypeName switch
        {
            "f32" => DType.F32,
            "f16" => DType.F16,
            "bf16" => DType.BF16,
            _ => throw new CliException($"--dtype must be f32, f16 or bf16, not '{dtypeName}'"),
        };
        using var loaded = ModelOptions.Open(args, output);
        var config = loaded.Model.Config;
        if (ArchitectureRegistry.ByName(config.Architecture, loaded.Path) is not ITrainableArchitecture architecture)
            throw new NotSupportedException($"{loaded.Path}: exporting '{config.Architecture}' models is not supported (supported: gpt2)");
        var tokenizerJson = args.String(ModelOptions.Tokenizer) ?? TokenizerDiscovery.Find(loaded.Path);
        if (!tokenizerJson.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw new NotSupportedException($"{tokenizerJson}: only tokenizer.json tokenizers can be exported with the model");
        HfCheckpoint.Write(outDir, architecture, config, loaded.Model.Weights, tokenizerJson, dtype);
        long bytes = Directory.EnumerateFiles(outDir).Sum(f => new FileInfo(f).Length);
        var result = new Result(outDir, config.Architecture, dtypeName, loaded.Model.ParameterCount, bytes);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"wrote {outDir}: {config.Architecture}, {result.Parameters:N0} parameters as {dtypeName}, {bytes / 1e6:F1} MB");
        return 0;
    }
}

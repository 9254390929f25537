using Pinpoint.Models.Formats;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint quantize</c>: rewrite a GGUF file with its matrices in Q8_0 or llama.cpp's Q4_K_M mix.</summary>
public sealed class QuantizeCommand : Command
{
    private static readonly CliOption Input = new("model", "FILE", "the GGUF file to quantize (required)");
    private static readonly CliOption Out = new("out", "FILE", "the GGUF file to write (required)");
    private static readonly CliOption Type = new("type", "TYPE", "q8_0 or q4_k_m (default q8_0)");

    public override string Name => "quantize";
    public override string Summary => "write a GGUF file's matrices as Q8_0 or Q4_K_M (files llama.cpp also loads)";
    public override IReadOnlyList<CliOption> Options { get; } = [Input, Out, Type];
    public override System.Type ResultType => typeof(Result);

    /// <param name="Types">How many tensors are stored as each ggml type.</param>
    public sealed record Result(string Out, string Scheme, TypeCount[] Types, long SourceBytes, long Bytes);

    public sealed record TypeCount(string Type, int Tensors);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var source = args.RequiredString(Input);
        var outPath = args.RequiredString(Out);
        var typeName = args.String(Type) ?? "q8_0";
        var scheme = typeName.ToLowerInvariant() switch
        {
            "q8_0" => QuantizationScheme.Q8_0,
            "q4_k_m" => QuantizationScheme.Q4_K_M,
            _ => throw new CliException($"--type must be q8_0 or q4_k_m, not '{typeName}'"),
        };
        using (var file = TensorFile.Open(source))
        {
            if (file.Format != TensorFileFormat.Gguf) throw new NotSupportedException($"{source}: quantize reads GGUF files only");
            GgufQuantizer.Write(file, outPath, scheme);
        }
        TypeCount[] types;
        using (var written = TensorFile.Open(outPath))
            types = written.Names.GroupBy(n => written[n].DType.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new TypeCount(g.Key, g.Count())).ToArray();
        var result = new Result(outPath, scheme.ToString(), types, new FileInfo(source).Length, new FileInfo(outPath).Length);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"wrote {outPath}: {scheme}, {string.Join(", ", types.Select(t => $"{t.Tensors} {t.Type}"))}; {result.Bytes / 1e6:F1} MB (from {result.SourceBytes / 1e6:F1} MB)");
        return 0;
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint info</c>: a model's architecture, sizes, weights, tokenizer and hook points.</summary>
public sealed partial class InfoCommand : Command
{
    public override string Name => "info";
    public override string Summary => "describe a model: architecture, sizes, weight dtypes, tokenizer, hook points";
    public override IReadOnlyList<CliOption> Options => ModelOptions.All;
    public override Type ResultType => typeof(Result);

    public sealed record RopeInfo(string Layout, float Theta, int RotaryDim);

    public sealed record TokenizerInfo(string Kind, string? Source, int VocabSize, int? BosId, int? EosId, bool AddsBos);

    public sealed record Result(
        string Path, string Format, string Architecture,
        int DModel, int NLayers, int NHeads, int NKvHeads, int DHead, int DMlp, int VocabSize, int ContextLength,
        string Norm, float NormEps, string Positions, RopeInfo? Rope, string Activation, bool GatedMlp, bool ParallelResidual,
        long ParameterCount, string[] Dtypes, TokenizerInfo Tokenizer, string[] Hooks);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        using var loaded = ModelOptions.Open(args, output);
        var result = Describe(loaded);
        if (output.Json) output.WriteJson(result);
        else output.WriteProperties(Rows(result));
        return 0;
    }

    public static Result Describe(LoadedModel loaded)
    {
        var model = loaded.Model;
        var c = model.Config;
        var tokenizer = loaded.Tokenizer;
        var dtypes = model.Weights.Parameters().Select(p => CommandOutput.Name(p.Tensor.DType)).Distinct().Order(StringComparer.Ordinal).ToArray();
        return new Result(
            loaded.Path, CommandOutput.Name(loaded.Format), c.Architecture,
            c.DModel, c.NLayers, c.NHeads, c.NKvHeads, c.DHead, c.DMlp, c.VocabSize, c.ContextLength,
            CommandOutput.Name(c.Norm), c.NormEps, CommandOutput.Name(c.Positions),
            c.Positions == PositionKind.Rotary ? new RopeInfo(CommandOutput.Name(c.RopeLayout), c.RopeTheta, c.RotaryDim) : null,
            CommandOutput.Name(c.Activation), c.GatedMlp, c.ParallelResidual,
            model.ParameterCount, dtypes,
            new TokenizerInfo(TokenizerKind(tokenizer), (tokenizer as TokenizerBase)?.Source, tokenizer.VocabSize, tokenizer.Bos, tokenizer.Eos,
                c.AddBos && tokenizer.Bos is not null),
            model.HookNamesInOrder().ToArray());
    }

    private static string TokenizerKind(ITokenizer tokenizer) => tokenizer switch
    {
        ScoredBpeTokenizer => "sentencepiece_bpe",
        HfTokenizer => "hf_tokenizers",
        _ => tokenizer.GetType().Name,
    };

    private static IEnumerable<(string, string)> Rows(Result r)
    {
        string Num(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        yield return ("path", r.Path);
        yield return ("format", r.Format);
        yield return ("architecture", r.Architecture);
        yield return ("d_model", Num(r.DModel));
        yield return ("layers", Num(r.NLayers));
        yield return ("heads", Num(r.NHeads));
        yield return ("kv heads", Num(r.NKvHeads));
        yield return ("d_head", Num(r.DHead));
        yield return ("d_mlp", Num(r.DMlp) + (r.GatedMlp ? " (gated)" : ""));
        yield return ("vocab", Num(r.VocabSize));
        yield return ("context", Num(r.ContextLength));
        yield return ("norm", $"{r.Norm} (eps {Num(r.NormEps)})");
        yield return ("positions", r.Rope is { } rope ? $"{r.Positions} ({rope.Layout} layout, theta {Num(rope.Theta)}, rotary dim {rope.RotaryDim})" : r.Positions);
        yield return ("activation", r.Activation);
        yield return ("residual", r.ParallelResidual ? "parallel" : "sequential");
        yield return ("parameters", r.ParameterCount.ToString("N0", CultureInfo.InvariantCulture));
        yield return ("weight dtypes", string.Join(", ", r.Dtypes));
        var t = r.Tokenizer;
        yield return ("tokenizer", $"{t.Kind}, vocab {t.VocabSize}" + (t.Source is null ? "" : $" ({t.Source})"));
        yield return ("bos / eos", $"{t.BosId?.ToString(CultureInfo.InvariantCulture) ?? "none"} / {t.EosId?.ToString(CultureInfo.InvariantCulture) ?? "none"}; "
            + (t.AddsBos ? "BOS prepended to prompts" : "no BOS prepended"));
        yield return ("hooks", $"{r.Hooks.Length} points\n" + string.Join("\n", HookPatterns(r.Hooks, r.NLayers)));
    }

    /// <summary>Hook names with the layer index folded: <c>blocks.{0..4}.attn.hook_q</c>, in forward order.</summary>
    private static IEnumerable<string> HookPatterns(IEnumerable<string> hooks, int layers) =>
        hooks.Select(h => LayerPrefix().Replace(h, $"blocks.{{0..{layers - 1}}}.")).Distinct();

    [GeneratedRegex(@"^blocks\.\d+\.")]
    private static partial Regex LayerPrefix();
}

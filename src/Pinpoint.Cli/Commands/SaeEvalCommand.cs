using System.Globalization;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Saes;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint sae eval</c>: reconstruction and downstream metrics of an SAE spliced into the model.</summary>
public sealed class SaeEvalCommand : Command
{
    private static readonly CliOption SaeDir = new("sae", "DIR", "SAE folder (SAELens, sparsify or dictionary_learning layout; required)");
    private static readonly CliOption Text = new("text", "FILES", "comma-separated corpus files to evaluate on (required)");
    private static readonly CliOption Context = new("context", "N", "tokens per window (default: the SAE's context_size)");
    private static readonly CliOption MaxTokens = new("max-tokens", "N", "stop after about this many tokens (default: all)");

    public override string Name => "sae eval";
    public override string Summary => "evaluate an SAE: L0, explained variance, CE-loss and KL scores with the SAE spliced in, dead/dense features";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, SaeDir, Text, Context, MaxTokens, SaeTrainCommand.Split, SaeTrainCommand.ValidationFraction];
    public override Type ResultType => typeof(SaeEvalResult);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var saePath = args.RequiredString(SaeDir);
        var files = args.RequiredString(Text).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var keep = SaeTrainCommand.DocumentFilter(args.String(SaeTrainCommand.Split), args.Float(SaeTrainCommand.ValidationFraction, 0.02f));
        var sae = SaeLensFormat.Read(saePath);
        using var model = ModelOptions.Open(args);
        SaeSplice.CheckFits(sae, model.Model, saePath);
        int context = args.Int(Context, Math.Min(sae.Metadata.ContextSize, model.Model.Config.ContextLength), min: 2);
        int maxTokens = args.Int(MaxTokens, int.MaxValue, min: 1);
        var windows = HarvestSources.Corpus(model, files, context, keep);
        long taken = 0;
        var limited = windows.TakeWhile(w => (taken += w.Ids.Length) - w.Ids.Length < maxTokens);
        var progress = new Progress<long>(t => Console.Error.Write($"\r{t:N0} tokens"));
        var result = SaeEvaluator.Evaluate(model.Model, sae, saePath, limited, progress: progress);
        Console.Error.WriteLine();
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        string F(double? v) => v is { } x ? x.ToString("0.####", CultureInfo.InvariantCulture) : "—";
        output.WriteProperties([
            ("sae", result.Sae), ("hook", result.Hook), ("tokens", result.Tokens.ToString("N0", CultureInfo.InvariantCulture)),
            ("l0", F(result.L0)), ("explained variance", F(result.ExplainedVariance)), ("mse", F(result.Mse)),
            ("cosine similarity", F(result.Cossim)), ("l2 ratio", F(result.L2Ratio)),
            ("CE loss clean / SAE / zero", $"{F(result.CeLossClean)} / {F(result.CeLossSae)} / {F(result.CeLossZero)}"),
            ("CE loss score", F(result.CeLossScore)), ("KL div SAE / zero", $"{F(result.KlDivSae)} / {F(result.KlDivZero)}"),
            ("KL div score", F(result.KlDivScore)), ("dead fraction", F(result.DeadFraction)),
            ("dense > 1% / > 10%", $"{F(result.DenseFraction1pct)} / {F(result.DenseFraction10pct)}"),
        ]);
        foreach (var note in result.Notes) output.Text.WriteLine(note);
        return 0;
    }
}

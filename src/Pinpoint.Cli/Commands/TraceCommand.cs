using Pinpoint.Interpretability.Editing;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint trace</c>: causal tracing of a factual prediction (ROME's method): which states at which layers and positions carry it.</summary>
public sealed class TraceCommand : Command
{
    private static readonly CliOption Prompt = new("prompt", "TEXT", "the prompt whose next token is traced (required)");
    private static readonly CliOption Subject = new("subject", "TEXT", "the subject inside the prompt whose token embeddings are corrupted (required)");
    private static readonly CliOption Answer = new("answer", "TEXT", "the continuation whose probability is traced (default: the clean top token)");
    private static readonly CliOption Samples = new("samples", "N", "noise samples (default 10)");
    private static readonly CliOption Window = new("window", "W", "consecutive layers of MLP/attention outputs restored together (default layers / 4, at least 1; ROME: 10 of 48)");
    private static readonly CliOption Seed = new("seed", "S", "noise seed (default 0)");
    private static readonly CliOption HtmlFile = new("html", "FILE", "also write the heatmaps as a self-contained HTML page");

    public override string Name => "trace";
    public override string Summary => "causal tracing: corrupt the subject's embeddings, restore clean states per layer and position, measure the answer's probability";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Prompt, Subject, Answer, Samples, Window, Seed, HtmlFile];
    public override Type ResultType => typeof(Result);

    /// <param name="Residual">Indirect effect [layer][position] of restoring the residual stream after the layer.</param>
    public sealed record Result(string Prompt, string[] Tokens, int SubjectStart, int SubjectEnd, string Answer, int AnswerId, double CleanProbability,
        double CorruptedProbability, double NoiseStd, int Samples, int Window, double[][] Residual, double[][] Mlp, double[][] Attention, string? Html = null);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var prompt = args.RequiredString(Prompt);
        var subject = args.RequiredString(Subject);
        var options = new CausalTraceOptions
        {
            Samples = args.Int(Samples, 10, min: 1), Window = args.Int(Window, 0, min: 1), Seed = args.Int(Seed, 0, min: 0), Answer = args.String(Answer),
        };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args);
        var r = CausalTrace.Run(loaded, prompt, subject, options);
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, CausalTraceHtmlReport.Render(r));
        var result = new Result(r.Prompt, r.Tokens, r.SubjectStart, r.SubjectEnd, r.Answer, r.AnswerId, r.CleanProbability, r.CorruptedProbability,
            r.NoiseStd, r.Samples, r.Window, r.Residual, r.Mlp, r.Attention, htmlPath);
        if (output.Json) output.WriteJson(result);
        else Render(result, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    private static void Render(Result r, CommandOutput output)
    {
        output.WriteProperties(
        [
            ("answer", CommandOutput.Quote(r.Answer)), ("P(answer) clean", CommandOutput.Number(r.CleanProbability, "F4")),
            ("P(answer) corrupted", CommandOutput.Number(r.CorruptedProbability, "F4")),
            ("subject tokens", string.Join(" ", r.Tokens[r.SubjectStart..r.SubjectEnd].Select(CommandOutput.Quote))),
        ]);
        foreach (var (name, grid) in new[] { ("residual", r.Residual), ("mlp", r.Mlp), ("attention", r.Attention) })
        {
            if (grid.Length == 0) continue;
            var table = CommandOutput.NewTable([name, .. r.Tokens.Select((t, p) => (p >= r.SubjectStart && p < r.SubjectEnd ? "*" : "") + CommandOutput.Quote(t))]);
            for (int l = 0; l < grid.Length; l++)
                CommandOutput.AddRow(table, [$"L{l}", .. grid[l].Select(v => CommandOutput.Number(v, "F3"))]);
            output.Write(table);
        }
    }
}

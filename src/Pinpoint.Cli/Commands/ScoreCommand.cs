using System.Globalization;
using Pinpoint.Interpretability.Evaluation;

namespace Pinpoint.Cli.Commands;

/// <summary>
/// <c>pinpoint score</c>: target-vs-foil logit differences over a JSONL dataset, or, for items with "answers",
/// how often an answer is in the model's top-k.
/// </summary>
public sealed class ScoreCommand : Command
{
    private static readonly CliOption Dataset = new("dataset", "FILE", "JSONL items {\"prompt\",\"target\",\"foil\"} (or {\"prompt\",\"answers\":[..]} for a top-k probe)");
    private static readonly CliOption TopK = new("topk", "K",
        "for \"answers\" items: count a hit when an answer's first token is in the top K (default 5); " +
        "JSON: {\"items\":[{\"prompt\":string,\"answers\":[string],\"rank\":int,\"hit\":bool}],\"top_k\":int,\"hit_rate\":number}");
    private static readonly CliOption BatchSize = new("batch-size", "N", $"prompts per forward pass (default {Scorer.DefaultBatchSize})");

    public override string Name => "score";
    public override string Summary => "score a JSONL dataset: target-vs-foil logit differences and accuracy (or top-k hits)";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, ModelOptions.Steer, Dataset, TopK, BatchSize];
    public override Type ResultType => typeof(Result);

    public sealed record Item(string Prompt, string Target, string Foil, float LogitDiff, bool Correct, int TargetTokens, int FoilTokens, string? Group);

    public sealed record GroupAccuracy(string Group, int Count, double Accuracy);

    public sealed record Result(Item[] Items, double Accuracy, GroupAccuracy[]? Groups);

    public sealed record ProbeItem(string Prompt, string[] Answers, int Rank, bool Hit, string? Group);

    public sealed record ProbeResult(ProbeItem[] Items, int TopK, double HitRate);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var path = args.RequiredString(Dataset);
        int batchSize = args.Int(BatchSize, Scorer.DefaultBatchSize, min: 1);
        int? topK = args.String(TopK) is null ? null : args.Int(TopK, 5, min: 1);
        var kind = EvalDataset.DetectKind(path);
        if (kind == EvalKind.TargetFoil && topK is not null)
            throw new CliException($"--{TopK.Name} applies to datasets whose items have \"answers\"; {path} has target/foil items");
        if (kind == EvalKind.Answers) return Probe(args, output, path, topK ?? 5, batchSize);

        var items = EvalDataset.ReadScoreItems(path);
        using var loaded = ModelOptions.Open(args, output);
        var report = Scorer.Score(loaded, items, batchSize);
        var groups = report.Groups.Select(g => new GroupAccuracy(g.Group, g.Count, g.Accuracy)).ToArray();
        var result = new Result(
            report.Items.Select(s => new Item(s.Item.Prompt, s.Item.Target, s.Item.Foil, s.LogitDiff, s.Correct, s.TargetTokens, s.FoilTokens, s.Item.Group)).ToArray(),
            report.Accuracy,
            groups.Length > 0 ? groups : null);
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        var table = CommandOutput.NewTable("#", "prompt", "target", "foil", "logit diff", "target wins");
        for (int i = 0; i < result.Items.Length; i++)
        {
            var it = result.Items[i];
            CommandOutput.AddRow(table, CommandOutput.Int(i + 1), Shorten(it.Prompt), CommandOutput.Quote(it.Target) + Tokens(it.TargetTokens), CommandOutput.Quote(it.Foil) + Tokens(it.FoilTokens),
                it.LogitDiff.ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture), it.Correct ? "yes" : "no");
        }
        output.Write(table);
        if (result.Groups is not null)
        {
            var byGroup = CommandOutput.NewTable("group", "items", "accuracy");
            foreach (var g in result.Groups) CommandOutput.AddRow(byGroup, g.Group, CommandOutput.Int(g.Count), Percent(g.Accuracy));
            output.Write(byGroup);
        }
        output.Text.WriteLine($"accuracy: {Percent(result.Accuracy)} ({result.Items.Count(i => i.Correct)}/{result.Items.Length})");
        int same = report.Items.Count(s => s.TargetId == s.FoilId);
        if (same > 0)
            output.Text.WriteLine($"note: for {same} item(s) the target and foil begin with the same token under this tokenizer, so their difference is 0 and they count as wrong");
        return 0;
    }

    private static int Probe(CliArgs args, CommandOutput output, string path, int topK, int batchSize)
    {
        var items = EvalDataset.ReadKnowledgeItems(path);
        using var loaded = ModelOptions.Open(args, output);
        var report = KnowledgeProbe.Probe(loaded, items, topK, batchSize);
        var result = new ProbeResult(
            report.Items.Select(p => new ProbeItem(p.Item.Prompt, p.Item.Answers, p.Rank, p.Hit, p.Item.Group)).ToArray(),
            topK,
            report.HitRate);
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        var table = CommandOutput.NewTable("#", "prompt", "answers", "best rank", $"in top {topK}");
        for (int i = 0; i < result.Items.Length; i++)
        {
            var it = result.Items[i];
            CommandOutput.AddRow(table, CommandOutput.Int(i + 1), Shorten(it.Prompt), string.Join(" ", it.Answers.Select(CommandOutput.Quote)), CommandOutput.Int(it.Rank), it.Hit ? "yes" : "no");
        }
        output.Write(table);
        output.Text.WriteLine($"top-{topK} hit rate: {Percent(result.HitRate)} ({result.Items.Count(i => i.Hit)}/{result.Items.Length})");
        return 0;
    }

    private static string Percent(double v) => v.ToString("P1", CultureInfo.InvariantCulture);

    private static string Tokens(int n) => n == 1 ? "" : $" ({n} tokens)";

    /// <summary>The end of a long prompt (what the prediction depends on most), one line.</summary>
    private static string Shorten(string prompt)
    {
        var s = prompt.Replace("\n", "\\n").Replace("\t", "\\t");
        return s.Length <= 70 ? s : "…" + s[^69..];
    }
}

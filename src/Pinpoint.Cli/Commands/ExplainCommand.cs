using System.Text;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Lens;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Formats;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint explain</c>: which components, neurons, positions and weights decide target vs foil, checked by ablation and zeroing.</summary>
public sealed class ExplainCommand : Command
{
    internal static readonly CliOption Prompt = new("prompt", "TEXT", "the text whose next token is explained (default: a built-in article example)");
    internal static readonly CliOption Target = new("target", "TEXT", "the expected continuation, e.g. \" the\" (any length; the logit difference compares the first token where target and foil differ, after the tokens they share)");
    internal static readonly CliOption Foil = new("foil", "TEXT", "the alternative, e.g. \" a\" (any length)");
    internal static readonly CliOption Counterfactual = new("counterfactual", "TEXT", "a prompt of equal token length where the answer changes (default: found by swapping one token)");
    private static readonly CliOption Top = new("top", "K", "rows per ranking (default 10)");
    private static readonly CliOption VerifyK = new("verify-k", "K", "components ablated together in the causal check (default 5)");
    internal static readonly CliOption Dataset = new("dataset", "FILE", "explain every {\"prompt\",\"target\",\"foil\",\"counterfactual\"?} line of a JSONL file: means ± 95% CI, consistent vs item-specific components, one top-k ablation across all items");
    internal static readonly CliOption Limit = new("limit", "N", "with --dataset: only the first N items");
    internal static readonly CliOption IgSteps = new("ig-steps", "S", $"gradients averaged along the counterfactual→clean path by integrated gradients (default {IntegratedGradients.DefaultSteps})");
    internal static readonly CliOption CounterfactualsFrom = new("counterfactuals-from", "FILE", "draw the counterfactual from the prompts of a JSONL dataset ({\"prompt\",...} lines): of those with the prompt's token length, the one that lowers the difference most");
    internal static readonly CliOption Metric = new("metric", "NAME", "what patching, attribution, ablation and weights measure: logit-diff (target − foil at their first differing token, the default), logprob or prob (of the whole target, teacher-forced), kl (KL divergence from the clean run's next-token distributions), logprob-diff (log p(target) − log p(foil), each teacher-forced over all its tokens)");
    internal static readonly CliOption Position = new("position", "P", "the prompt token after which the answer comes (0-based; default: the last); later tokens are dropped");
    internal static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report (heatmaps, charts, tables; no network) to FILE");
    private static readonly CliOption Saes = new("sae", "DIR[,DIR...]", "also attribute target − foil to the features and error nodes of these SAEs (SAELens folders, one per hook) and ablate the top --verify-k against random active features; with --dataset, only this, per item");
    private static readonly CliOption Tuned = new("tuned", "DIR", "tuned lens folder (pinpoint lens train) read beside the logit lens (default: MODEL/tuned-lens when it exists)");
    private static readonly CliOption FullPatching = new("full-patching", null, $"exact activation patching of every cell even above {EstimatedPatching.ParameterThreshold / 1_000_000}M parameters, where the default estimates the grids by attribution patching and verifies the top {EstimatedPatching.DefaultVerifiedCells} cells per direction");
    internal static readonly CliOption Dashboards = new("dashboards", "DIR", "folder of neuron dashboard stores (pinpoint neurons --out); default: the model's own dashboards/ folder. Where a store exists, each mechanism neuron's top corpus contexts are shown");

    public override string Name => "explain";
    public override string Summary => "explain one prediction (target vs foil): lens, attributions, patching, ablation check, mechanisms, weights";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, ModelOptions.Steer, Prompt, Target, Foil, Counterfactual, CounterfactualsFrom, Metric, Position, Dataset, Limit, Top, VerifyK, IgSteps, FullPatching, HtmlFile, Dashboards, Tuned, Saes];
    public override Type ResultType => typeof(ExplainReport);
    public override IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [("--dataset", typeof(DatasetExplainReport)), ("--dataset with --sae", typeof(FeatureDatasetResult))];

    public override int Execute(CliArgs args, CommandOutput output)
    {
        if (args.String(Dataset) is { } dataset)
            return args.String(Saes) is null ? ExplainDataset(args, output, dataset) : ExplainFeatureDataset(args, output, dataset);
        var request = Request(args);
        int top = args.Int(Top, 10, min: 1);
        var options = new ExplainOptions { TopK = top, VerifyK = args.Int(VerifyK, 5, min: 1), IgSteps = args.Int(IgSteps, IntegratedGradients.DefaultSteps, min: 1), DashboardFolder = DashboardFolder(args),
            Patching = args.Flag(FullPatching) ? PatchingPolicy.Full : PatchingPolicy.Auto };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args, output);
        CheckVerifyK(options.VerifyK, loaded);
        if ((args.String(Tuned) ?? TunedLens.DefaultFolder(loaded.Path)) is { } tuned) options = options with { TunedLens = TunedLens.Load(tuned, loaded.Model.Config) };
        var saes = LoadSaes(args, loaded);
        var report = Explainer.Explain(loaded, request, options);
        if (saes is not null)
            report = report with
            {
                Features = FeatureAttribution.Run(loaded, request with { Counterfactual = report.Counterfactual.Text }, saes,
                    new FeatureAttributionOptions { TopK = top, VerifyK = options.VerifyK }, options.ReferencePrompts),
            };
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, ExplainHtmlReport.Render(report, top));
        if (output.Json) output.WriteJson(report with { Html = htmlPath });
        else
        {
            Render(report, output);
            if (report.Features is { } features) RenderFeatures(features, output);
        }
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    /// <summary>The prediction --prompt/--target/--foil/--counterfactual name, or the built-in article example without --prompt.</summary>
    internal static ExplainRequest Request(CliArgs args)
    {
        var prompt = args.String(Prompt);
        if (prompt is null && (args.String(Target) is not null || args.String(Foil) is not null))
            throw new CliException("--target and --foil need --prompt");
        var metric = MetricOption(args);
        var request = prompt is null
            ? ExplainRequest.ArticleExample with { Counterfactual = args.String(Counterfactual) ?? ExplainRequest.ArticleExample.Counterfactual }
            : new ExplainRequest(prompt,
                args.String(Target) ?? throw new CliException("--target is required with --prompt"),
                args.String(Foil) ?? (metric == MetricKind.LogProbDiff
                    ? throw new ArgumentException("--metric logprob-diff compares the target's log-probability with the foil's: give --foil")
                    : throw new CliException($"--foil is required with --prompt: --metric {MetricNames[(int)metric]} is read beside the target − foil logit difference (logit lens, direct attribution)")),
                args.String(Counterfactual));
        var pool = args.String(CounterfactualsFrom);
        if (pool is not null && args.String(Counterfactual) is not null) throw new CliException("give --counterfactual or --counterfactuals-from, not both");
        return request with
        {
            Metric = metric, Position = args.String(Position) is null ? null : args.Int(Position, 0, min: 0),
            Counterfactual = pool is null ? request.Counterfactual : null,
            CounterfactualPool = pool is null ? null : (pool, EvalDataset.ReadScoreItems(pool).Select(i => i.Prompt).ToList()),
        };
    }

    /// <summary>--metric values, in <see cref="MetricKind"/> order.</summary>
    private static readonly string[] MetricNames = ["logit-diff", "logprob", "prob", "kl", "logprob-diff"];

    internal static MetricKind MetricOption(CliArgs args)
    {
        var name = args.String(Metric) ?? MetricNames[0];
        int index = Array.IndexOf(MetricNames, name);
        return index >= 0 ? (MetricKind)index : throw new CliException($"option --metric: '{name}' is not one of {string.Join(", ", MetricNames)}");
    }

    /// <summary>The first --limit items of the --dataset file (the prompt options must be absent).</summary>
    internal static List<ScoreItem> DatasetItems(CliArgs args, string dataset)
    {
        if (args.String(Prompt) is not null || args.String(Target) is not null || args.String(Foil) is not null || args.String(Counterfactual) is not null || args.String(CounterfactualsFrom) is not null)
            throw new CliException("--dataset takes the prompts, targets and foils from the file; drop --prompt/--target/--foil/--counterfactual/--counterfactuals-from");
        if (args.String(Position) is not null)
            throw new CliException("--position explains one prediction; --dataset reads each answer at the end of its prompt");
        var items = EvalDataset.ReadScoreItems(dataset);
        return items.Take(args.Int(Limit, items.Count, min: 1)).ToList();
    }

    private static int ExplainDataset(CliArgs args, CommandOutput output, string dataset)
    {
        var items = DatasetItems(args, dataset);
        var metric = MetricOption(args);
        int top = args.Int(Top, 10, min: 1);
        var options = new ExplainOptions { TopK = top, VerifyK = args.Int(VerifyK, 5, min: 1) };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args, output);
        CheckVerifyK(options.VerifyK, loaded);
        var report = ExplainDatasetView.Run(progress => DatasetExplainer.Explain(loaded, items, options, progress, metric: metric), output) with { Dataset = dataset };
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, DatasetHtmlReport.Render(report, dataset, top));
        if (output.Json) output.WriteJson(report with { Html = htmlPath });
        else ExplainDatasetView.Render(report, output);
        HtmlOutput.Wrote(htmlPath, output);
        return 0;
    }

    /// <summary>The SAEs --sae names, each checked against the model (null without --sae).</summary>
    private static List<Sae>? LoadSaes(CliArgs args, Pinpoint.Models.Loading.LoadedModel loaded)
    {
        if (args.String(Saes) is not { } list) return null;
        var dirs = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dirs.Length == 0) throw new CliException("option --sae: give at least one SAE folder");
        var saes = new List<Sae>();
        foreach (var dir in dirs)
        {
            var sae = SaeLensFormat.Read(dir);
            SaeSplice.CheckFits(sae, loaded.Model, dir);
            if (saes.FirstOrDefault(s => s.Metadata.HookName == sae.Metadata.HookName) is not null)
                throw new CliException($"option --sae: two SAEs read hook '{sae.Metadata.HookName}' ({dir}); give one per hook");
            saes.Add(sae);
        }
        return saes;
    }

    private static int ExplainFeatureDataset(CliArgs args, CommandOutput output, string dataset)
    {
        if (args.String(Metric) is not null) throw new CliException("--metric is not available with --dataset --sae (features are ranked by the logit difference); drop one of them");
        if (args.String(HtmlFile) is not null) throw new CliException("--html is not available with --dataset --sae; drop one of them");
        var items = DatasetItems(args, dataset);
        using var loaded = ModelOptions.Open(args, output);
        var saes = LoadSaes(args, loaded)!;
        var progress = StderrProgress.Create();
        var result = FeatureAttribution.RunDataset(loaded, items, saes, new FeatureAttributionOptions { VerifyK = args.Int(VerifyK, 5, min: 1) },
            progress is null ? null : (done, total) => progress("items", done, total));
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        string P(double v) => CommandOutput.Number(v, "P1");
        output.WriteProperties([
            ("SAEs", string.Join(", ", result.Hooks)),
            ("items", $"{result.Items} ({result.Right} with target ahead of foil; the shares below are over those)"),
            ($"own top-{result.K} features, mean ablation", $"{P(result.MeanRemoved)} of the summed difference removed (random {result.K}: {P(result.MeanRandomRemoved)}); ≥ 50% in {P(result.ItemsMeanHalfRemoved)} of items ({P(result.ItemsMeanHalfRemovedByEstimate)} with the estimate's top {result.K} unrefined)"),
            ($"own top-{result.K} features, resample ablation", $"{P(result.ResampleRemoved)} (random: {P(result.ResampleRandomRemoved)}); ≥ 50% in {P(result.ItemsResampleHalfRemoved)} of items ({P(result.ItemsResampleHalfRemovedByEstimate)} unrefined)"),
            .. result.Hooks.Select((h, s) => ($"error node share, {h}", P(result.MeanErrorShares[s]))),
        ]);
        var table = CommandOutput.NewTable("#", "prompt", "diff", $"top-{result.K} features", "mean removed (random)", "resample removed (random)");
        foreach (var r in result.PerItem)
            CommandOutput.AddRow(table, CommandOutput.Int(r.Index), CommandOutput.Quote(r.Prompt), CommandOutput.Number(r.LogitDiff), string.Join(" ", r.TopFeatures),
                $"{ItemShare(r.MeanRemoved, r)} ({ItemShare(r.MeanRandomRemoved, r)})", $"{ItemShare(r.ResampleRemoved, r)} ({ItemShare(r.ResampleRandomRemoved, r)})");
        output.Write(table);
        return 0;

        // A wrong item (target behind the foil) or a near-zero difference gets logits, not a share of it.
        static string ItemShare(double share, FeatureItemResult item) => ExplainSummary.Share(share, item.LogitDiff);
    }

    private static void RenderFeatures(FeatureAttributionResult f, CommandOutput output)
    {
        string N(double v) => CommandOutput.Number(v);
        string P(double v) => ExplainSummary.Share(v, f.LogitDiff);
        string Tokens(IEnumerable<TokenScore> t) => string.Join(" ", t.Select(x => CommandOutput.Quote(x.Token)));
        output.Text.WriteLine();
        output.WriteProperties([
            ("SAE features", $"{string.Join(", ", f.Hooks)} spliced in with their error terms; {f.ActiveFeatures} features active on the prompts"),
            .. f.Errors.Select(e => ($"error node, {e.Hook}", $"attribution {N(e.Attribution)} vs {N(e.FeatureAttribution)} for its features ({CommandOutput.Number(e.Share, "P1")} of the attribution mass)")),
            ($"ablating the top-{f.MeanAblation.K} features", $"mean ({string.Join(", ", f.MeanAblated)}): {P(f.MeanAblation.TopKFractionRemoved)} removed (random {f.MeanAblation.K} active: {P(f.MeanAblation.RandomKFractionRemoved)}); " +
                $"resample: {P(f.ResampleAblation.TopKFractionRemoved)} (random: {P(f.ResampleAblation.RandomKFractionRemoved)}); the estimate's own top {f.MeanAblation.K}, unrefined: {P(f.MeanRemovedByEstimate)} mean, {P(f.ResampleRemovedByEstimate)} resample"),
        ]);
        var table = CommandOutput.NewTable("feature", "attribution", "share of clean − cf", "largest term at", "activation (cf)", "promotes", "suppresses");
        foreach (var x in f.Top)
            CommandOutput.AddRow(table, x.Name, N(x.Attribution), CommandOutput.Number(x.Share, "P1"), $"{CommandOutput.Quote(x.Token)}@{x.Position}",
                $"{N(x.Activation)} ({N(x.CounterfactualActivation)})", Tokens(x.Promotes), Tokens(x.Suppresses));
        output.Write(table);
    }

    /// <summary>--verify-k against what the model has to ablate, before any work (a silent clamp would run for hours).</summary>
    /// <summary>--dashboards as a full path, checked to exist (a typo would silently show no contexts).</summary>
    internal static string? DashboardFolder(CliArgs args) => args.String(Dashboards) is not { } dir ? null
        : Directory.Exists(dir) ? Path.GetFullPath(dir) : throw new DirectoryNotFoundException($"--{Dashboards.Name}: folder {dir} does not exist");

    /// <summary>Context text on one terminal line: line breaks shown as ⏎.</summary>
    private static string OneLine(string text) => text.Replace("\r", "").Replace("\n", "⏎");

    private static void CheckVerifyK(int k, Pinpoint.Models.Loading.LoadedModel loaded)
    {
        int max = Explainer.MaxVerifyK(loaded.Model.Config);
        if (k > max) throw new CliException($"--{VerifyK.Name} {k} exceeds the {max} heads and neurons of the model ({loaded.Path}); give at most {max}");
    }

    private static void Render(ExplainReport r, CommandOutput output)
    {
        string N(double v) => CommandOutput.Number(v);
        string P(double v) => ExplainSummary.Share(v, r.Metric.Clean, r.Metric.Unit);
        foreach (var sentence in r.Summary.Sentences) output.Text.WriteLine(sentence);
        foreach (var caveat in r.Summary.Caveats) output.Text.WriteLine("Caveat: " + caveat);
        output.Text.WriteLine();
        double effect = r.Metric.Effect;
        string unit = r.Metric.Unit;
        output.WriteProperties([
            ("prompt", CommandOutput.Quote(r.Prompt)),
            ("target vs foil", $"{CommandOutput.Quote(r.Compared.TargetToken)} (id {r.Compared.TargetId}) vs {CommandOutput.Quote(r.Compared.FoilToken)} (id {r.Compared.FoilId})"
                + (r.Compared.Shared.Count > 0 ? $", after the shared {CommandOutput.Quote(string.Concat(r.Compared.Shared))} fed after the prompt" : "")),
            .. new[] { ("target", r.Target), ("foil", r.Foil) }.Where(c => c.Item2.TokenCount > 1).Select(c => (c.Item1,
                $"{CommandOutput.Quote(c.Item2.Text)} is {c.Item2.TokenCount} tokens ({string.Join(" ", c.Item2.Pieces.Select(CommandOutput.Quote))}); the logit difference compares token {r.Compared.Shared.Count + 1}; teacher-forced log p {N(c.Item2.LogProb ?? double.NaN)} ({string.Join(", ", (c.Item2.TokenLogProbs ?? []).Select(N))} per token)")),
            ("logit difference", N(r.LogitDiff)),
            ("counterfactual", $"{CommandOutput.Quote(r.Counterfactual.Text)} → difference {N(r.Counterfactual.LogitDiff)}"),
            ("counterfactual origin", r.Counterfactual.Origin),
            .. (r.Counterfactual.Candidates ?? []).Skip(1).Select((c, i) => ($"counterfactual candidate {i + 2}", $"{CommandOutput.Quote(c.Text)} → difference {N(c.LogitDiff)}")),
            ("metric", $"{r.Metric.Name}: {N(r.Metric.Clean)} {unit} on the prompt, {N(r.Metric.Counterfactual)} on the counterfactual (answer after token {r.AnswerPosition})"),
            .. (r.Metric.Terms ?? []).Select(t => ($"  {(t.Sign > 0 ? "+" : "−")} log p({t.Answer} token {t.Index + 1}, {CommandOutput.Quote(t.Token)})", $"{N(t.Clean)} on the prompt, {N(t.Counterfactual)} on the counterfactual")),
            .. (r.EstimatedPatching is { } estimated ? new[] { ("patching grids", $"{estimated.Note} (largest |estimate − exact| {N(estimated.MaxVerifiedError)}); --full-patching measures every cell") } : []),
            (r.EstimatedPatching is null ? "attribution vs activation patching" : "attribution vs activation patching (verified cells)", $"Spearman {N(r.AttributionPatching.SpearmanVsActivation)}"),
            ($"integrated gradients ({r.IntegratedGradients.Steps} steps) vs activation patching", $"Spearman {N(r.IntegratedGradients.SpearmanVsActivation)}"),
            ("weight vectors: estimate vs zeroing", $"Spearman {N(r.WeightsSpearman)} over the top {r.Weights.Count} of {r.WeightsScored} rows and columns; " +
                $"{N(r.BlockWeightsSpearman)} over the top {r.BlockWeights.Count} inside blocks"),
            ("ablated together", string.Join(", ", r.Verified.Select(c => c.Name))),
            ("ablating top-" + r.Verification.K + $" (share of the clean {r.Metric.Name}, {N(r.Metric.Clean)} {unit})", $"mean: {P(r.Verification.TopKFractionRemoved)} removed (random {r.Verification.K}: {P(r.Verification.RandomKFractionRemoved)}); " +
                $"resample: {P(r.Verification.Resample.TopKFractionRemoved)} (random: {P(r.Verification.Resample.RandomKFractionRemoved)})"),
        ]);
        var lens = CommandOutput.NewTable("logit lens", "target − foil");
        foreach (var p in r.LogitLens) CommandOutput.AddRow(lens, p.Stage, N(p.LogitDiff));
        output.Write(lens);
        if (r.TunedLens is { } tunedLens)
        {
            var tuned = CommandOutput.NewTable("tuned lens", "target − foil");
            foreach (var p in tunedLens) CommandOutput.AddRow(tuned, p.Stage, N(p.LogitDiff));
            output.Write(tuned);
        }
        WriteShares(output, "direct logit attribution (logits)", r.TopDirectAttribution, N);
        WriteShares(output, "top neurons, direct (logits)", r.TopNeurons, N);
        string OfEffect(double share) => ExplainSummary.Share(share, effect, unit);
        WriteShares(output, $"activation patching: share of the effect ({N(effect)} {unit}) restored", r.TopPatchingRanking, OfEffect);
        WriteShares(output, $"neurons, attribution patching: estimated share of the effect ({N(effect)} {unit})", r.NeuronRanking, OfEffect);
        // Positions as rows, layers as columns: prompts are longer than models are deep.
        int layers = r.Patching.ResidualDenoise.Length;
        var residual = CommandOutput.NewTable(["position", "token", .. Enumerable.Range(0, layers).Select(l => l < layers - 1 ? $"resid_pre L{l}" : "final")]);
        for (int p = 0; p < r.Tokens.Length; p++)
            CommandOutput.AddRow(residual, [CommandOutput.Int(p), CommandOutput.Quote(r.Tokens[p]), .. Enumerable.Range(0, layers).Select(l => CommandOutput.Number(r.Patching.ResidualDenoise[l][p], "F2"))]);
        output.Write(residual);
        string Tokens(IEnumerable<TokenScore> t) => string.Join(" ", t.Select(x => CommandOutput.Quote(x.Token)));
        var heads = CommandOutput.NewTable("head", "attends to (from the last position)", "output promotes");
        foreach (var h in r.HeadMechanisms)
            CommandOutput.AddRow(heads, h.Head.Name, string.Join(" ", h.AttendsTo.Select(a => $"{CommandOutput.Quote(a.Token)}@{a.Position} {a.Weight:F2}")), Tokens(h.Promotes));
        output.Write(heads);
        var ov = CommandOutput.NewTable("head", "OV circuit (weights): most-attended token", "promotes", $"copying score (top-{OvCircuits.CopyingTopK})");
        foreach (var h in r.HeadMechanisms)
            CommandOutput.AddRow(ov, h.Head.Name, $"{CommandOutput.Quote(h.Ov.SourceToken)}", Tokens(h.Ov.Promotes), CommandOutput.Number(h.Ov.CopyingScore, "P1"));
        output.Write(ov);
        var neurons = CommandOutput.NewTable("neuron", "activation", "reads (input weights)", "promotes", "suppresses");
        foreach (var n in r.NeuronMechanisms)
            CommandOutput.AddRow(neurons, n.Neuron.Name, CommandOutput.Number(n.Activation), Tokens(n.ReadsFrom), Tokens(n.Promotes), Tokens(n.Suppresses));
        output.Write(neurons);
        foreach (var n in r.NeuronContexts ?? [])
        {
            output.Text.WriteLine($"{n.Neuron} top corpus contexts (max {CommandOutput.Number(n.MaxActivation)}, density {CommandOutput.Number(n.Density, "P2")}):");
            foreach (var c in n.Top) output.Text.WriteLine($"  {CommandOutput.Number(c.Activation, "F2"),7}  {OneLine(c.Before)}[[{OneLine(c.Token)}]]{OneLine(c.After)}");
        }
        WriteWeights(output, "weight vector (TransformerLens orientation)", r.Weights);
        WriteWeights(output, "weight vector inside blocks", r.BlockWeights);
    }

    private static void WriteWeights(CommandOutput output, string title, IEnumerable<WeightRow> weights)
    {
        var table = CommandOutput.NewTable(title, "estimated Δ diff", "Δ diff when zeroed");
        foreach (var w in weights) CommandOutput.AddRow(table, w.Name, CommandOutput.Number(w.Estimate), CommandOutput.Number(w.Actual));
        output.Write(table);
    }

    private static void WriteShares(CommandOutput output, string title, IEnumerable<Attribution> shares, Func<double, string> format)
    {
        var table = CommandOutput.NewTable(title, "value");
        foreach (var s in shares) CommandOutput.AddRow(table, s.Component.Name, format(s.Value));
        output.Write(table);
    }
}

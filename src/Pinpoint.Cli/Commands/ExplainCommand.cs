using System.Text;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Formats;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint explain</c>: which components, neurons, positions and weights decide target vs foil, checked by ablation and zeroing.</summary>
public sealed class ExplainCommand : Command
{
    internal static readonly CliOption Prompt = new("prompt", "TEXT", "the text whose next token is explained (default: a built-in article example)");
    internal static readonly CliOption Target = new("target", "TOKEN", "the expected continuation, e.g. \" the\" (its first token is used)");
    internal static readonly CliOption Foil = new("foil", "TOKEN", "the alternative, e.g. \" a\"");
    internal static readonly CliOption Counterfactual = new("counterfactual", "TEXT", "a prompt of equal token length where the answer changes (default: found by swapping one token)");
    private static readonly CliOption Top = new("top", "K", "rows per ranking (default 10)");
    private static readonly CliOption VerifyK = new("verify-k", "K", "components ablated together in the causal check (default 5)");
    internal static readonly CliOption Dataset = new("dataset", "FILE", "explain every {\"prompt\",\"target\",\"foil\",\"counterfactual\"?} line of a JSONL file: means ± 95% CI, consistent vs item-specific components, one top-k ablation across all items");
    internal static readonly CliOption Limit = new("limit", "N", "with --dataset: only the first N items");
    internal static readonly CliOption IgSteps = new("ig-steps", "S", $"gradients averaged along the counterfactual→clean path by integrated gradients (default {IntegratedGradients.DefaultSteps})");
    internal static readonly CliOption HtmlFile = new("html", "FILE", "also write a self-contained HTML report (heatmaps, charts, tables; no network) to FILE");
    private static readonly CliOption Saes = new("sae", "DIR[,DIR...]", "also attribute target − foil to the features and error nodes of these SAEs (SAELens folders, one per hook) and ablate the top --verify-k against random active features; with --dataset, only this, per item");

    public override string Name => "explain";
    public override string Summary => "explain one prediction (target vs foil): lens, attributions, patching, ablation check, mechanisms, weights";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, ModelOptions.Steer, Prompt, Target, Foil, Counterfactual, Dataset, Limit, Top, VerifyK, IgSteps, HtmlFile, Saes];
    public override Type ResultType => typeof(Result);
    public override IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [("--dataset", typeof(ExplainDatasetView.Result)), ("--dataset with --sae", typeof(FeatureDatasetResult))];

    /// <param name="Pieces">How the text tokenizes after the prompt; only the first token (<paramref name="Token"/>) is compared.</param>
    public sealed record Choice(string Text, int Id, string Token, int TokenCount, string[] Pieces);
    public sealed record CounterfactualInfo(string Text, string Origin, string[] Tokens, double LogitDiff);
    public sealed record LensRow(string Stage, double LogitDiff);
    public sealed record Share(string Component, double Value);
    public sealed record Patching(double[][] ResidualDenoise, double[][] ResidualNoise, double[] AttnOut, double[] MlpOut, double[][] Heads, double[][] HeadsNoise);
    public sealed record AttributionPatchingInfo(double[][] Residual, double[] AttnOut, double[] MlpOut, double[][] Heads, double SpearmanVsActivation);
    public sealed record IntegratedGradientsInfo(int Steps, double[][] Residual, double[] AttnOut, double[] MlpOut, double[][] Heads, double SpearmanVsActivation);
    public sealed record Ablation(int K, double TopKFractionRemoved, double RandomKFractionRemoved, double[] Curve, double[] RandomCurve);
    public sealed record VerificationInfo(int K, double TopKFractionRemoved, double RandomKFractionRemoved, double[] Curve, double[] RandomCurve, string[] Components, Ablation Resample);

    /// <param name="LogitDiff">Target − foil logit at the last position of the prompt.</param>
    /// <param name="Html">Full path of the HTML report, when <c>--html</c> asked for one.</param>
    /// <param name="Summary">The answer first: sentences built from the numbers below, and the caveats that qualify them.</param>
    public sealed record Result(
        SummaryInfo Summary, string Prompt, string[] Tokens, Choice Target, Choice Foil, double LogitDiff, CounterfactualInfo Counterfactual,
        LensRow[] LogitLens, Share[] DirectAttribution, double DirectAttributionConstant, Share[] TopNeurons,
        Patching Patching, AttributionPatchingInfo AttributionPatching, IntegratedGradientsInfo IntegratedGradients, Share[] PatchingRanking, Share[] NeuronPatching, VerificationInfo Verification,
        HeadInfo[] HeadMechanisms, NeuronInfo[] NeuronMechanisms, WeightInfo[] Weights, double WeightsSpearman, WeightInfo[] BlockWeights, double BlockWeightsSpearman, int WeightsScored, string? Html = null,
        FeatureAttributionResult? Features = null);

    public sealed record SummaryInfo(string[] Sentences, string[] Caveats);
    public sealed record Attended(int Position, string Token, double Weight);
    public sealed record TokenValue(string Token, double Score);
    public sealed record OvInfo(int SourcePosition, string SourceToken, TokenValue[] Promotes, double CopyingScore);
    public sealed record HeadInfo(string Component, Attended[] AttendsTo, TokenValue[] Promotes, OvInfo OvCircuit);
    /// <param name="Estimate">First-order change in the logit difference when the vector is zeroed (−Σ grad·weight).</param>
    /// <param name="Actual">The change measured by zeroing it and running the model again.</param>
    public sealed record WeightInfo(string Name, string Matrix, string Kind, int Index, string? Note, double Estimate, double Actual);
    public sealed record NeuronInfo(string Component, double Activation, TokenValue[] ReadsFrom, TokenValue[] Promotes, TokenValue[] Suppresses);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        if (args.String(Dataset) is { } dataset)
            return args.String(Saes) is null ? ExplainDataset(args, output, dataset) : ExplainFeatureDataset(args, output, dataset);
        var request = Request(args);
        int top = args.Int(Top, 10, min: 1);
        var options = new ExplainOptions { TopK = top, VerifyK = args.Int(VerifyK, 5, min: 1), IgSteps = args.Int(IgSteps, IntegratedGradients.DefaultSteps, min: 1) };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args, output);
        CheckVerifyK(options.VerifyK, loaded);
        var saes = LoadSaes(args, loaded);
        var report = Explainer.Explain(loaded, request, options);
        var features = saes is null ? null : FeatureAttribution.Run(loaded, request with { Counterfactual = report.Counterfactual }, saes,
            new FeatureAttributionOptions { TopK = top, VerifyK = options.VerifyK }, options.ReferencePrompts);
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, ExplainHtmlReport.Render(report, top, features));
        var result = ToResult(report, top, options.IgSteps) with { Html = htmlPath, Features = features };
        if (output.Json) output.WriteJson(result);
        else
        {
            Render(result, output);
            if (features is not null) RenderFeatures(features, output);
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
        return prompt is null
            ? ExplainRequest.ArticleExample with { Counterfactual = args.String(Counterfactual) ?? ExplainRequest.ArticleExample.Counterfactual }
            : new ExplainRequest(prompt,
                args.String(Target) ?? throw new CliException("--target is required with --prompt"),
                args.String(Foil) ?? throw new CliException("--foil is required with --prompt"),
                args.String(Counterfactual));
    }

    /// <summary>The first --limit items of the --dataset file (the prompt options must be absent).</summary>
    internal static List<ScoreItem> DatasetItems(CliArgs args, string dataset)
    {
        if (args.String(Prompt) is not null || args.String(Target) is not null || args.String(Foil) is not null || args.String(Counterfactual) is not null)
            throw new CliException("--dataset takes the prompts, targets and foils from the file; drop --prompt/--target/--foil/--counterfactual");
        var items = EvalDataset.ReadScoreItems(dataset);
        return items.Take(args.Int(Limit, items.Count, min: 1)).ToList();
    }

    private static int ExplainDataset(CliArgs args, CommandOutput output, string dataset)
    {
        var items = DatasetItems(args, dataset);
        int top = args.Int(Top, 10, min: 1);
        var options = new ExplainOptions { TopK = top, VerifyK = args.Int(VerifyK, 5, min: 1) };
        var htmlPath = HtmlOutput.ReportPath(args, HtmlFile);
        using var loaded = ModelOptions.Open(args, output);
        CheckVerifyK(options.VerifyK, loaded);
        var report = ExplainDatasetView.Run(progress => DatasetExplainer.Explain(loaded, items, options, progress), output);
        if (htmlPath is not null) HtmlOutput.Write(htmlPath, DatasetHtmlReport.Render(report, dataset, top));
        var result = ExplainDatasetView.ToResult(dataset, report) with { Html = htmlPath };
        if (output.Json) output.WriteJson(result);
        else ExplainDatasetView.Render(result, output);
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
            ($"own top-{result.K} features, mean ablation", $"{P(result.MeanRemoved)} of the difference removed on average (random {result.K}: {P(result.MeanRandomRemoved)}); ≥ 50% in {P(result.ItemsMeanHalfRemoved)} of items"),
            ($"own top-{result.K} features, resample ablation", $"{P(result.ResampleRemoved)} (random: {P(result.ResampleRandomRemoved)}); ≥ 50% in {P(result.ItemsResampleHalfRemoved)} of items"),
            .. result.Hooks.Select((h, s) => ($"error node share, {h}", P(result.MeanErrorShares[s]))),
        ]);
        var table = CommandOutput.NewTable("#", "prompt", "diff", $"top-{result.K} features", "mean removed (random)", "resample removed (random)");
        foreach (var r in result.PerItem)
            CommandOutput.AddRow(table, CommandOutput.Int(r.Index), CommandOutput.Quote(r.Prompt), CommandOutput.Number(r.LogitDiff), string.Join(" ", r.TopFeatures),
                $"{P(r.MeanRemoved)} ({P(r.MeanRandomRemoved)})", $"{P(r.ResampleRemoved)} ({P(r.ResampleRandomRemoved)})");
        output.Write(table);
        return 0;
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
                $"resample: {P(f.ResampleAblation.TopKFractionRemoved)} (random: {P(f.ResampleAblation.RandomKFractionRemoved)})"),
        ]);
        var table = CommandOutput.NewTable("feature", "attribution", "share of clean − cf", "largest term at", "activation (cf)", "promotes", "suppresses");
        foreach (var x in f.Top)
            CommandOutput.AddRow(table, x.Name, N(x.Attribution), CommandOutput.Number(x.Share, "P1"), $"{CommandOutput.Quote(x.Token)}@{x.Position}",
                $"{N(x.Activation)} ({N(x.CounterfactualActivation)})", Tokens(x.Promotes), Tokens(x.Suppresses));
        output.Write(table);
    }

    /// <summary>--verify-k against what the model has to ablate, before any work (a silent clamp would run for hours).</summary>
    private static void CheckVerifyK(int k, Pinpoint.Models.Loading.LoadedModel loaded)
    {
        int max = Explainer.MaxVerifyK(loaded.Model.Config);
        if (k > max) throw new CliException($"--{VerifyK.Name} {k} exceeds the {max} heads and neurons of the model ({loaded.Path}); give at most {max}");
    }

    public static Result ToResult(ExplainReport r, int top, int igSteps)
    {
        static Share S(Attribution a) => new(a.Component.Name, a.Value);
        static Ablation A(VerificationResult v) => new(v.K, v.TopKFractionRemoved, v.RandomKFractionRemoved, [.. v.Curve], [.. v.RandomCurve]);
        var summary = r.Summary;
        return new Result(
            new SummaryInfo([.. summary.Sentences], [.. summary.Caveats]), r.Prompt, r.Tokens,
            new Choice(r.Target.Text, r.Target.Id, r.Target.Token, r.Target.TokenCount, [.. r.Target.Pieces]),
            new Choice(r.Foil.Text, r.Foil.Id, r.Foil.Token, r.Foil.TokenCount, [.. r.Foil.Pieces]),
            r.LogitDiff,
            new CounterfactualInfo(r.Counterfactual, r.CounterfactualOrigin, r.CounterfactualTokens, r.CounterfactualLogitDiff),
            r.LogitLens.Select(p => new LensRow(p.Stage, p.LogitDiff)).ToArray(),
            r.DirectAttribution.Take(top).Select(S).ToArray(), r.DirectAttributionConstant,
            r.TopNeurons.Select(S).ToArray(),
            new Patching(r.Denoising.ResidualByLayerPosition, r.Noising.ResidualByLayerPosition, r.Denoising.AttentionOut, r.Denoising.MlpOut, r.Denoising.Heads, r.Noising.Heads),
            new AttributionPatchingInfo(r.AttributionDenoising.ResidualByLayerPosition, r.AttributionDenoising.AttentionOut, r.AttributionDenoising.MlpOut,
                r.AttributionDenoising.Heads, r.AttributionSpearman),
            new IntegratedGradientsInfo(igSteps, r.IntegratedGradients.ResidualByLayerPosition, r.IntegratedGradients.AttentionOut, r.IntegratedGradients.MlpOut,
                r.IntegratedGradients.Heads, r.IntegratedGradientsSpearman),
            r.PatchingRanking.Take(top).Select(S).ToArray(),
            r.NeuronRanking.Select(S).ToArray(),
            new VerificationInfo(r.MeanAblation.K, r.MeanAblation.TopKFractionRemoved, r.MeanAblation.RandomKFractionRemoved,
                [.. r.MeanAblation.Curve], [.. r.MeanAblation.RandomCurve], r.Verified.Select(c => c.Name).ToArray(),
                A(r.ResampleAblation)),
            r.HeadMechanisms.Select(h => new HeadInfo(h.Head.Name, h.AttendsTo.Select(a => new Attended(a.Position, a.Token, a.Weight)).ToArray(), T(h.Promotes),
                new OvInfo(h.Ov.SourcePosition, h.Ov.SourceToken, T(h.Ov.Promotes), h.Ov.CopyingScore))).ToArray(),
            r.NeuronMechanisms.Select(n => new NeuronInfo(n.Neuron.Name, n.Activation, T(n.ReadsFrom), T(n.Promotes), T(n.Suppresses))).ToArray(),
            W(r.Weights.All), r.Weights.All.Spearman, W(r.Weights.InBlocks), r.Weights.InBlocks.Spearman, r.Weights.Scored);
        static TokenValue[] T(IEnumerable<TokenScore> s) => s.Select(x => new TokenValue(x.Token, x.Score)).ToArray();
        static WeightInfo[] W(WeightRanking ranking) => ranking.Verified
            .Select(e => new WeightInfo(e.Vector.Name, e.Vector.Matrix, CommandOutput.Name(e.Vector.Kind), e.Vector.Index, e.Vector.Note, e.Estimate, e.Actual)).ToArray();
    }

    private static void Render(Result r, CommandOutput output)
    {
        string N(double v) => CommandOutput.Number(v);
        string P(double v) => ExplainSummary.Share(v, r.LogitDiff);
        foreach (var sentence in r.Summary.Sentences) output.Text.WriteLine(sentence);
        foreach (var caveat in r.Summary.Caveats) output.Text.WriteLine("Caveat: " + caveat);
        output.Text.WriteLine();
        double effect = r.LogitDiff - r.Counterfactual.LogitDiff;
        output.WriteProperties([
            ("prompt", CommandOutput.Quote(r.Prompt)),
            ("target vs foil", $"{CommandOutput.Quote(r.Target.Token)} (id {r.Target.Id}) vs {CommandOutput.Quote(r.Foil.Token)} (id {r.Foil.Id})"),
            .. new[] { ("target", r.Target), ("foil", r.Foil) }.Where(c => c.Item2.TokenCount > 1).Select(c => (c.Item1,
                $"{CommandOutput.Quote(c.Item2.Text)} is {c.Item2.TokenCount} tokens ({string.Join(" ", c.Item2.Pieces.Select(CommandOutput.Quote))}); only the first is compared")),
            ("logit difference", N(r.LogitDiff)),
            ("counterfactual", $"{CommandOutput.Quote(r.Counterfactual.Text)} → difference {N(r.Counterfactual.LogitDiff)}"),
            ("counterfactual origin", r.Counterfactual.Origin),
            ("attribution vs activation patching", $"Spearman {N(r.AttributionPatching.SpearmanVsActivation)}"),
            ($"integrated gradients ({r.IntegratedGradients.Steps} steps) vs activation patching", $"Spearman {N(r.IntegratedGradients.SpearmanVsActivation)}"),
            ("weight vectors: estimate vs zeroing", $"Spearman {N(r.WeightsSpearman)} over the top {r.Weights.Length} of {r.WeightsScored} rows and columns; " +
                $"{N(r.BlockWeightsSpearman)} over the top {r.BlockWeights.Length} inside blocks"),
            ("ablated together", string.Join(", ", r.Verification.Components)),
            ("ablating top-" + r.Verification.K + $" (share of the clean difference, {N(r.LogitDiff)} logits)", $"mean: {P(r.Verification.TopKFractionRemoved)} removed (random {r.Verification.K}: {P(r.Verification.RandomKFractionRemoved)}); " +
                $"resample: {P(r.Verification.Resample.TopKFractionRemoved)} (random: {P(r.Verification.Resample.RandomKFractionRemoved)})"),
        ]);
        var lens = CommandOutput.NewTable("logit lens", "target − foil");
        foreach (var p in r.LogitLens) CommandOutput.AddRow(lens, p.Stage, N(p.LogitDiff));
        output.Write(lens);
        WriteShares(output, "direct logit attribution (logits)", r.DirectAttribution, N);
        WriteShares(output, "top neurons, direct (logits)", r.TopNeurons, N);
        string OfEffect(double share) => ExplainSummary.Share(share, effect);
        WriteShares(output, $"activation patching: share of the effect ({N(effect)} logits) restored", r.PatchingRanking, OfEffect);
        WriteShares(output, $"neurons, attribution patching: estimated share of the effect ({N(effect)} logits)", r.NeuronPatching, OfEffect);
        // Positions as rows, layers as columns: prompts are longer than models are deep.
        int layers = r.Patching.ResidualDenoise.Length;
        var residual = CommandOutput.NewTable(["position", "token", .. Enumerable.Range(0, layers).Select(l => l < layers - 1 ? $"resid_pre L{l}" : "final")]);
        for (int p = 0; p < r.Tokens.Length; p++)
            CommandOutput.AddRow(residual, [CommandOutput.Int(p), CommandOutput.Quote(r.Tokens[p]), .. Enumerable.Range(0, layers).Select(l => CommandOutput.Number(r.Patching.ResidualDenoise[l][p], "F2"))]);
        output.Write(residual);
        string Tokens(IEnumerable<TokenValue> t) => string.Join(" ", t.Select(x => CommandOutput.Quote(x.Token)));
        var heads = CommandOutput.NewTable("head", "attends to (from the last position)", "output promotes");
        foreach (var h in r.HeadMechanisms)
            CommandOutput.AddRow(heads, h.Component, string.Join(" ", h.AttendsTo.Select(a => $"{CommandOutput.Quote(a.Token)}@{a.Position} {a.Weight:F2}")), Tokens(h.Promotes));
        output.Write(heads);
        var ov = CommandOutput.NewTable("head", "OV circuit (weights): most-attended token", "promotes", $"copying score (top-{OvCircuits.CopyingTopK})");
        foreach (var h in r.HeadMechanisms)
            CommandOutput.AddRow(ov, h.Component, $"{CommandOutput.Quote(h.OvCircuit.SourceToken)}@{h.OvCircuit.SourcePosition}", Tokens(h.OvCircuit.Promotes), CommandOutput.Number(h.OvCircuit.CopyingScore, "P1"));
        output.Write(ov);
        var neurons = CommandOutput.NewTable("neuron", "activation", "reads (input weights)", "promotes", "suppresses");
        foreach (var n in r.NeuronMechanisms)
            CommandOutput.AddRow(neurons, n.Component, CommandOutput.Number(n.Activation), Tokens(n.ReadsFrom), Tokens(n.Promotes), Tokens(n.Suppresses));
        output.Write(neurons);
        WriteWeights(output, "weight vector (TransformerLens orientation)", r.Weights);
        WriteWeights(output, "weight vector inside blocks", r.BlockWeights);
    }

    private static void WriteWeights(CommandOutput output, string title, IEnumerable<WeightInfo> weights)
    {
        var table = CommandOutput.NewTable(title, "estimated Δ diff", "Δ diff when zeroed");
        foreach (var w in weights) CommandOutput.AddRow(table, w.Name, CommandOutput.Number(w.Estimate), CommandOutput.Number(w.Actual));
        output.Write(table);
    }

    private static void WriteShares(CommandOutput output, string title, IEnumerable<Share> shares, Func<double, string> format)
    {
        var table = CommandOutput.NewTable(title, "value");
        foreach (var s in shares) CommandOutput.AddRow(table, s.Component, format(s.Value));
        output.Write(table);
    }
}

using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Reports;

/// <summary>
/// An <see cref="ExplainReport"/> as one self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched).
/// Each section is its own function of the report, so a new kind of result is a new section, and a front end can
/// show any section on its own.
/// </summary>
public static class ExplainHtmlReport
{
    public const int DefaultRankingRows = 10;

    public static string Render(ExplainReport report, int rankingRows = DefaultRankingRows) =>
        Html.Document($"pinpoint explain: {Html.VisibleToken(report.Compared.TargetToken)} vs {Html.VisibleToken(report.Compared.FoilToken)}", ReportParts.Css,
        [
            Summary(report), LogitLensSection(report), ResidualPatching(report), HeadsAndLayers(report),
            AttentionPatterns(report), Rankings(report, rankingRows), MechanismTables(report), DashboardHtmlReport.NeuronContextsSection(report.NeuronContexts ?? []), Weights(report), Faithfulness(report),
            .. report.Features is null ? Array.Empty<HtmlFragment>() : [FeatureAttributionHtml.Section(report.Features)],
        ]);

    public static HtmlFragment Summary(ExplainReport r)
    {
        string WeightAgreement(WeightRanking w) => $"Spearman {Html.Format(w.Spearman)} over the top {w.Verified.Count}";
        HtmlFragment Choice(TokenChoice c, int compared) =>
            Html.Token(c.Pieces[0], $"id {c.Ids[0]}") + $" id {c.Ids[0]}" + (c.TokenCount > 1 ? $", first of {c.TokenCount} tokens of \"{c.Text}\"" : "")
            + (r.Compared.Shared.Count > 0 ? $"; compared at token {r.Compared.Shared.Count + 1}, {Html.VisibleToken(c.Pieces[r.Compared.Shared.Count])} (id {compared})" : "");
        HtmlFragment Ablation(VerificationResult v) =>
            $"top {v.K} remove {ExplainSummary.Share(v.TopKFractionRemoved, r.Metric.Clean, r.Metric.Unit)} of the clean {(r.Metric.Unit == "logits" ? "difference" : r.Metric.Name)} ({Html.Format(r.Metric.Clean)} {r.Metric.Unit}); random {v.K} (same kinds, mean of {Verification.RandomDraws} draws) remove {ExplainSummary.Share(v.RandomKFractionRemoved, r.Metric.Clean, r.Metric.Unit)}";
        var title = Html.Element("h1", "Why " + Html.Token(r.Compared.TargetToken) + " and not " + Html.Token(r.Compared.FoilToken) + "?"
            + (r.Compared.Shared.Count > 0 ? " (after " + Html.Token(string.Concat(r.Compared.Shared)) + ")" : ""));
        return title + ReportParts.Answer(r.Summary) + Html.Properties(
        [
            ("prompt", ReportParts.Prompt(r.Prompt)),
            ("tokens", TokenChips(r.Tokens, r.Ids.Select(id => $"id {id}").ToList(), changed: r.Tokens.Select((t, p) => t != r.Counterfactual.Tokens[p]).ToList())),
            ("target", Choice(r.Target, r.Compared.TargetId)),
            ("foil", Choice(r.Foil, r.Compared.FoilId)),
            ("logit difference (target − foil)", Html.Number(r.LogitDiff)),
            ("counterfactual", ReportParts.Prompt(r.Counterfactual.Text)),
            ("counterfactual tokens", TokenChips(r.Counterfactual.Tokens, null, changed: r.Counterfactual.Tokens.Select((t, p) => t != r.Tokens[p]).ToList())),
            ("counterfactual origin", r.Counterfactual.Origin),
            ("counterfactual logit difference", Html.Number(r.Counterfactual.LogitDiff)),
            ("metric (patching, ablation, weights)", $"{r.Metric.Name}: {Html.Format(r.Metric.Clean)} {r.Metric.Unit} on the prompt, {Html.Format(r.Metric.Counterfactual)} on the counterfactual"),
            ("answer position", $"{r.AnswerPosition}"),
            ("attribution vs activation patching", "Spearman " + Html.Number(r.AttributionSpearman)),
            ("integrated gradients vs activation patching", "Spearman " + Html.Number(r.IntegratedGradientsSpearman)),
            ("weight vectors: estimate vs zeroing", $"{WeightAgreement(r.WeightAttribution.All)} of {r.WeightAttribution.Scored} rows and columns; {WeightAgreement(r.WeightAttribution.InBlocks)} inside blocks"),
            ("ablated together (causal check)", Html.SpaceSeparated(r.Verified.Select(c => Html.Element("code", c.Name)))),
            ("mean ablation", Ablation(r.MeanAblation)),
            ("resample ablation", Ablation(r.ResampleAblation)),
        ]);
    }

    public static HtmlFragment LogitLensSection(ExplainReport r)
    {
        List<LineSeries> series = [new("logit lens", r.LogitLens.Select(p => p.LogitDiff).ToList(), ReportParts.Red)];
        if (r.TunedLens is { } tuned) series.Add(new("tuned lens", tuned.Select(p => p.LogitDiff).ToList(), ReportParts.Blue));
        return Html.Section("logit-lens", r.TunedLens is null ? "Logit lens" : "Logit lens and tuned lens",
            "Target − foil logit difference read from the residual stream at the last position after each layer, through the final norm" +
            (r.TunedLens is null ? "." : "; the tuned lens first applies each layer's trained affine translator (pinpoint lens train)."),
            Svg.Render(new LineChart("logit-lens", "Lens: target − foil by layer", "logit difference", r.LogitLens.Select(p => p.Stage).ToList(), series)));
    }

    public static HtmlFragment ResidualPatching(ExplainReport r)
    {
        int layers = r.Denoising.ResidualByLayerPosition.Length - 1;
        var rows = Enumerable.Range(0, layers + 1).Select(l => l < layers ? $"resid_pre L{l}" : "final").ToList();
        var columns = PositionLabels(r.Tokens);
        // One scale for both directions, so their colours compare.
        var scale = ColourScale.DivergingFor(r.Denoising.ResidualByLayerPosition.Concat(r.Noising.ResidualByLayerPosition).SelectMany(x => x));
        return Html.Section("residual-patching", "Activation patching: residual stream by layer and position",
            "Denoise: the counterfactual run with one clean residual patched in, as the share of the clean difference it restores. " +
            "Noise: the clean run with one counterfactual residual patched in, as the share it destroys. Red is positive, blue negative.",
            Html.Figures(
            [
                Svg.Render(new Heatmap("residual-denoise", "Denoise (share restored)", rows, columns, r.Denoising.ResidualByLayerPosition, scale, "share restored")),
                Svg.Render(new Heatmap("residual-noise", "Noise (share destroyed)", rows, columns, r.Noising.ResidualByLayerPosition, scale, "share destroyed")),
            ]));
    }

    public static HtmlFragment HeadsAndLayers(ExplainReport r)
    {
        int layers = r.Denoising.Heads.Length, heads = layers > 0 ? r.Denoising.Heads[0].Length : 0;
        var shares = ColourScale.DivergingFor(new[] { r.Denoising, r.Noising, r.AttributionDenoising, r.IntegratedDenoising }.SelectMany(p => p.Heads.SelectMany(x => x)));
        var direct = new double[layers][];
        for (int l = 0; l < layers; l++) direct[l] = Enumerable.Repeat(double.NaN, heads).ToArray();
        foreach (var a in r.DirectAttribution.Where(a => a.Component.Kind == ComponentKind.Head))
            direct[a.Component.Layer][a.Component.Index] = a.Value;

        var outputRows = new List<(string Label, double[] Values)> { ("attn_out denoise", r.Denoising.AttentionOut), ("attn_out noise", r.Noising.AttentionOut) };
        if (r.Denoising.MlpOut.Length > 0) outputRows.AddRange([("mlp_out denoise", r.Denoising.MlpOut), ("mlp_out noise", r.Noising.MlpOut)]);
        var outputs = outputRows.Select(x => x.Values).ToArray();
        return Html.Section("heads", "Heads and layers",
            "Patching one head's output (hook_z at every position) or one layer's attention or MLP output; direct logit attribution is the head's " +
            "own contribution to the final target − foil difference, in logits. Attribution patching estimates denoising from one gradient; " +
            $"integrated gradients average the gradient along the counterfactual → clean path (Spearman vs activation patching: attribution {Html.Format(r.AttributionSpearman)}, " +
            $"integrated gradients {Html.Format(r.IntegratedGradientsSpearman)}).",
            Html.Figures(
            [
                ReportParts.HeadHeatmap("heads-denoise", "Heads, denoise (share restored)", r.Denoising.Heads, shares, "share restored"),
                ReportParts.HeadHeatmap("heads-noise", "Heads, noise (share destroyed)", r.Noising.Heads, shares, "share destroyed"),
                ReportParts.HeadHeatmap("heads-attribution", $"Heads, attribution patching (Spearman {Html.Format(r.AttributionSpearman)})",
                    r.AttributionDenoising.Heads, shares, "estimated share"),
                ReportParts.HeadHeatmap("heads-integrated-gradients", $"Heads, integrated gradients (Spearman {Html.Format(r.IntegratedGradientsSpearman)})",
                    r.IntegratedDenoising.Heads, shares, "estimated share"),
                ReportParts.HeadHeatmap("heads-direct", "Heads, direct logit attribution", direct, ColourScale.DivergingFor(direct.SelectMany(x => x)), "logits"),
                Svg.Render(new Heatmap("layer-outputs", "Layer outputs (share)", outputRows.Select(x => x.Label).ToList(), ReportParts.LayerLabels(layers), outputs,
                    ColourScale.DivergingFor(outputs.SelectMany(x => x)), "share")),
            ]));
    }

    public static HtmlFragment AttentionPatterns(ExplainReport r)
    {
        var labels = PositionLabels(r.Tokens.Take(r.AnswerPosition + 1).ToList());
        var figures = r.HeadMechanisms.Select(h =>
        {
            // A query cannot attend to later keys (causal mask): those cells are drawn as missing, not as 0.
            var pattern = h.Pattern.Select((row, q) => row.Select((w, k) => k > q ? double.NaN : w).ToArray()).ToArray();
            var map = new Heatmap($"attention-{h.Head.Name}", $"{h.Head.Name} attention (rows: query, columns: key)", labels, labels, pattern,
                ColourScale.Sequential(1), "weight", "masked: a query cannot attend to later positions");
            var caption = Html.Element("p",
                $"share restored {Html.Format(PatchingShare(r.Denoising, h.Head))}; output promotes " + ReportParts.ScoredChips(h.Promotes), ("class", "caption"));
            return Svg.Render(map) + caption;
        });
        return Html.Section("attention", "Attention patterns of the top heads",
            "Each row is a query position, each column a key position it can attend to; the last row is the answer position.",
            Html.Figures(figures));
    }

    public static HtmlFragment Rankings(ExplainReport r, int rows = DefaultRankingRows) =>
        Html.Section("rankings", "Rankings", "Components and neurons ordered by each method; hover a number for its exact value.",
            Html.Figures(
            [
                Html.Table("Activation patching", ["#", "component", "share restored", "share destroyed (noise)"],
                    r.PatchingRanking.Take(rows).Select((a, i) => RankingRow(i, a, Html.Number(PatchingShare(r.Noising, a.Component))))),
                RankingTable("Direct logit attribution", "logits", r.DirectAttribution.Take(rows)),
                RankingTable("Neurons, attribution patching", "estimated share", r.NeuronRanking.Take(rows)),
                RankingTable("Neurons, direct logit attribution", "logits", r.TopNeurons.Take(rows)),
            ]) + Html.Element("p", $"Direct logit attribution also has a constant part (biases and final-norm offset) of {Html.Format(r.DirectAttributionConstant)} logits.", ("class", "note")));

    public static HtmlFragment MechanismTables(ExplainReport r) =>
        Html.Section("mechanisms", "Mechanisms",
            "What the top heads read and write, and what the top neurons read from the embeddings and write to the logits (through the final norm's weights). " +
            "The OV circuit is the head's weights alone (W_E · W_V · W_O · W_U) applied to the token it attends to most; its copying score is the share of " +
            $"{OvCircuits.CopyingSample} tokens that the full circuit puts among their own top {OvCircuits.CopyingTopK} (a random head scores about {OvCircuits.CopyingTopK}/vocabulary).",
            Html.Figures(
            [
                Html.Table("Heads", ["head", "attends to (from the answer position)", "output promotes", "OV circuit: source", "OV circuit promotes", "copying score"],
                    r.HeadMechanisms.Select(h => (IReadOnlyList<HtmlFragment>)
                    [
                        Html.Element("code", h.Head.Name),
                        Html.SpaceSeparated(h.AttendsTo.Select(a => Html.Token(a.Token, $"position {a.Position}, weight {Html.Exact(a.Weight)}") + $" @{a.Position} {Html.Format(a.Weight, "F2")}")),
                        ReportParts.ScoredChips(h.Promotes),
                        Html.Token(h.Ov.SourceToken, $"position {h.Ov.SourcePosition}") + $" @{h.Ov.SourcePosition}",
                        ReportParts.ScoredChips(h.Ov.Promotes),
                        ReportParts.Percent(h.Ov.CopyingScore),
                    ])),
                Html.Table("Neurons", ["neuron", "activation", "reads (input weights)", "promotes", "suppresses"],
                    r.NeuronMechanisms.Select(n => (IReadOnlyList<HtmlFragment>)
                    [
                        Html.Element("code", n.Neuron.Name), Html.Number(n.Activation),
                        ReportParts.ScoredChips(n.ReadsFrom), ReportParts.ScoredChips(n.Promotes), ReportParts.ScoredChips(n.Suppresses),
                    ])),
            ]));

    public static HtmlFragment Weights(ExplainReport r)
    {
        HtmlFragment Ranking(string id, string caption, WeightRanking ranking) => Html.Figures(
        [
            Html.Table($"{caption} (Spearman {Html.Format(ranking.Spearman)})", ["#", "weight vector", "estimated Δ diff", "Δ diff when zeroed"],
                ranking.Verified.Select((w, i) => (IReadOnlyList<HtmlFragment>)
                    [Html.Format(i + 1, "F0"), Html.Element("code", w.Vector.Name), Html.Number(w.Estimate), Html.Number(w.Actual)])),
            Svg.Render(new ScatterChart(id, $"{caption}: estimate vs zeroing", "estimated Δ diff", "Δ diff when zeroed",
                ranking.Verified.Select(w => new ScatterPoint(w.Vector.Name, w.Estimate, w.Actual)).ToList(), ReportParts.Blue)),
        ]);
        return Html.Section("weights", "Which weights",
            $"Every row and column of every weight matrix ({r.WeightAttribution.Scored} in all, TransformerLens orientation) scored by gradient × weight: the first-order " +
            "change in the target − foil difference if it were zeroed. The largest are verified by zeroing each one and running the model again; points on the " +
            "dashed line were estimated exactly. Inside blocks leaves out the embeddings and unembeddings, whose target and foil vectors lead any prompt.",
            Ranking("weights-all", "All weights", r.WeightAttribution.All) + Ranking("weights-blocks", "Inside blocks", r.WeightAttribution.InBlocks));
    }

    public static HtmlFragment Faithfulness(ExplainReport r)
    {
        HtmlFragment Chart(string id, VerificationResult v, string title) => ReportParts.FaithfulnessChart(id, title, v.Curve, v.RandomCurve, r.Verified);
        return Html.Section("faithfulness", "Faithfulness: ablating the top k",
            "Fraction of the clean logit difference removed when the top k components are ablated together, against random sets of the same kinds. " +
            "Mean ablation replaces outputs by their mean over reference prompts; resample ablation by the counterfactual run's.",
            Html.Figures([Chart("faithfulness-mean", r.MeanAblation, "Mean ablation"), Chart("faithfulness-resample", r.ResampleAblation, "Resample ablation")]));
    }

    private static IReadOnlyList<HtmlFragment> RankingRow(int index, Attribution a, params HtmlFragment[] extra) =>
        [Html.Format(index + 1, "F0"), Html.Element("code", a.Component.Name), Html.Number(a.Value), .. extra];

    private static HtmlFragment RankingTable(string caption, string valueName, IEnumerable<Attribution> ranking) =>
        Html.Table(caption, ["#", "component", valueName], ranking.Select((a, i) => RankingRow(i, a)));

    /// <summary>A head's or MLP's patching share (0 for kinds patching does not measure).</summary>
    private static double PatchingShare(PatchingResult p, Component c) => c.Kind switch
    {
        ComponentKind.Head => p.Heads[c.Layer][c.Index],
        ComponentKind.Mlp => p.MlpOut[c.Layer],
        _ => 0,
    };

    private static List<string> PositionLabels(IReadOnlyList<string> tokens) => tokens.Select((t, p) => $"{p} {Html.VisibleToken(t)}").ToList();

    /// <summary>Token chips with their positions; tokens that differ between prompt and counterfactual are highlighted.</summary>
    private static HtmlFragment TokenChips(IReadOnlyList<string> tokens, IReadOnlyList<string>? notes, IReadOnlyList<bool> changed) =>
        Html.SpaceSeparated(tokens.Select((t, p) =>
        {
            var tooltip = $"position {p}" + (notes is null ? "" : $", {notes[p]}");
            var chip = Html.Token(t, tooltip);
            return changed[p] ? Html.Element("mark", chip) : chip;
        }));
}

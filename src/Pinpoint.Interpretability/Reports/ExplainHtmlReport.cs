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

    private const string Red = "#c0392b", Grey = "#7f8c8d";

    public static string Render(ExplainReport report, int rankingRows = DefaultRankingRows) =>
        Html.Document($"pinpoint explain: {Html.VisibleToken(report.Target.Token)} vs {Html.VisibleToken(report.Foil.Token)}", Css,
        [
            Summary(report), LogitLensSection(report), ResidualPatching(report), HeadsAndLayers(report),
            AttentionPatterns(report), Rankings(report, rankingRows), MechanismTables(report), Faithfulness(report),
        ]);

    public static HtmlFragment Summary(ExplainReport r)
    {
        string Percent(double v) => Html.Format(v, "P1");
        HtmlFragment Choice(TokenChoice c) =>
            Html.Token(c.Token, $"id {c.Id}") + $" id {c.Id}" + (c.TokenCount > 1 ? $", first of {c.TokenCount} tokens of \"{c.Text}\"" : "");
        HtmlFragment Ablation(VerificationResult v) =>
            $"top {v.K} remove {Percent(v.TopKFractionRemoved)} of the difference; random {v.K} (same kinds, mean of {Verification.RandomDraws} draws) remove {Percent(v.RandomKFractionRemoved)}";
        var title = Html.Element("h1", "Why " + Html.Token(r.Target.Token) + " and not " + Html.Token(r.Foil.Token) + "?");
        return title + Html.Properties(
        [
            ("prompt", Html.Element("span", r.Prompt, ("class", "prompt"))),
            ("tokens", TokenChips(r.Tokens, r.Ids.Select(id => $"id {id}").ToList(), changed: r.Tokens.Select((t, p) => t != r.CounterfactualTokens[p]).ToList())),
            ("target", Choice(r.Target)),
            ("foil", Choice(r.Foil)),
            ("logit difference (target − foil)", Html.Number(r.LogitDiff)),
            ("counterfactual", Html.Element("span", r.Counterfactual, ("class", "prompt"))),
            ("counterfactual tokens", TokenChips(r.CounterfactualTokens, null, changed: r.CounterfactualTokens.Select((t, p) => t != r.Tokens[p]).ToList())),
            ("counterfactual origin", r.CounterfactualOrigin),
            ("counterfactual logit difference", Html.Number(r.CounterfactualLogitDiff)),
            ("attribution vs activation patching", "Spearman " + Html.Number(r.AttributionSpearman)),
            ("ablated together (causal check)", Html.SpaceSeparated(r.Verified.Select(c => Html.Element("code", c.Name)))),
            ("mean ablation", Ablation(r.MeanAblation)),
            ("resample ablation", Ablation(r.ResampleAblation)),
        ]);
    }

    public static HtmlFragment LogitLensSection(ExplainReport r) =>
        Html.Section("logit-lens", "Logit lens",
            "Target − foil logit difference read from the residual stream at the last position after each layer, through the final norm.",
            Svg.Render(new LineChart("logit-lens", "Logit lens: target − foil by layer", "logit difference",
                r.LogitLens.Select(p => p.Stage).ToList(), [new LineSeries("target − foil", r.LogitLens.Select(p => p.LogitDiff).ToList(), Red)])));

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
        var rows = Enumerable.Range(0, layers).Select(l => $"L{l}").ToList();
        var columns = Enumerable.Range(0, heads).Select(h => $"H{h}").ToList();
        var shares = ColourScale.DivergingFor(new[] { r.Denoising, r.Noising, r.AttributionDenoising }.SelectMany(p => p.Heads.SelectMany(x => x)));
        var direct = new double[layers][];
        for (int l = 0; l < layers; l++) direct[l] = Enumerable.Repeat(double.NaN, heads).ToArray();
        foreach (var a in r.DirectAttribution.Where(a => a.Component.Kind == ComponentKind.Head))
            direct[a.Component.Layer][a.Component.Index] = a.Value;

        var outputRows = new List<(string Label, double[] Values)> { ("attn_out denoise", r.Denoising.AttentionOut), ("attn_out noise", r.Noising.AttentionOut) };
        if (r.Denoising.MlpOut.Length > 0) outputRows.AddRange([("mlp_out denoise", r.Denoising.MlpOut), ("mlp_out noise", r.Noising.MlpOut)]);
        var outputs = outputRows.Select(x => x.Values).ToArray();
        return Html.Section("heads", "Heads and layers",
            "Patching one head's output (hook_z at every position) or one layer's attention or MLP output; direct logit attribution is the head's " +
            "own contribution to the final target − foil difference, in logits.",
            Html.Figures(
            [
                Svg.Render(new Heatmap("heads-denoise", "Heads, denoise (share restored)", rows, columns, r.Denoising.Heads, shares, "share restored")),
                Svg.Render(new Heatmap("heads-noise", "Heads, noise (share destroyed)", rows, columns, r.Noising.Heads, shares, "share destroyed")),
                Svg.Render(new Heatmap("heads-attribution", "Heads, attribution patching estimate", rows, columns, r.AttributionDenoising.Heads, shares, "estimated share")),
                Svg.Render(new Heatmap("heads-direct", "Heads, direct logit attribution", rows, columns, direct, ColourScale.DivergingFor(direct.SelectMany(x => x)), "logits")),
                Svg.Render(new Heatmap("layer-outputs", "Layer outputs (share)", outputRows.Select(x => x.Label).ToList(), rows, outputs,
                    ColourScale.DivergingFor(outputs.SelectMany(x => x)), "share")),
            ]));
    }

    public static HtmlFragment AttentionPatterns(ExplainReport r)
    {
        var labels = PositionLabels(r.Tokens);
        var figures = r.HeadMechanisms.Select(h =>
        {
            // A query cannot attend to later keys (causal mask): those cells are drawn as missing, not as 0.
            var pattern = h.Pattern.Select((row, q) => row.Select((w, k) => k > q ? double.NaN : w).ToArray()).ToArray();
            var map = new Heatmap($"attention-{h.Head.Name}", $"{h.Head.Name} attention (rows: query, columns: key)", labels, labels, pattern,
                ColourScale.Sequential(1), "weight", "masked: a query cannot attend to later positions");
            var caption = Html.Element("p",
                $"share restored {Html.Format(PatchingShare(r.Denoising, h.Head))}; output promotes " + ScoredChips(h.Promotes), ("class", "caption"));
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
            "What the top heads read and write, and what the top neurons read from the embeddings and write to the logits (through the final norm's weights).",
            Html.Figures(
            [
                Html.Table("Heads", ["head", "attends to (from the answer position)", "output promotes"],
                    r.HeadMechanisms.Select(h => (IReadOnlyList<HtmlFragment>)
                    [
                        Html.Element("code", h.Head.Name),
                        Html.SpaceSeparated(h.AttendsTo.Select(a => Html.Token(a.Token, $"position {a.Position}, weight {Html.Exact(a.Weight)}") + $" @{a.Position} {Html.Format(a.Weight, "F2")}")),
                        ScoredChips(h.Promotes),
                    ])),
                Html.Table("Neurons", ["neuron", "activation", "reads (input weights)", "promotes", "suppresses"],
                    r.NeuronMechanisms.Select(n => (IReadOnlyList<HtmlFragment>)
                        [Html.Element("code", n.Neuron.Name), Html.Number(n.Activation), ScoredChips(n.ReadsFrom), ScoredChips(n.Promotes), ScoredChips(n.Suppresses)])),
            ]));

    public static HtmlFragment Faithfulness(ExplainReport r)
    {
        HtmlFragment Chart(string id, VerificationResult v, string title)
        {
            // The x axis grows the ablated set one component at a time, in ranking order.
            var steps = v.Curve.Select((_, i) => i < r.Verified.Count ? $"+{r.Verified[i].Name}" : $"{i + 1}").ToList();
            return Svg.Render(new LineChart(id, title, "fraction of difference removed", steps,
            [
                new LineSeries("top k", v.Curve, Red),
                new LineSeries($"random k (mean of {Verification.RandomDraws})", v.RandomCurve, Grey, Dashed: true),
            ]));
        }
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

    private static HtmlFragment ScoredChips(IEnumerable<TokenScore> tokens) => Html.SpaceSeparated(tokens.Select(t => Html.Token(t.Token, $"score {Html.Exact(t.Score)}")));

    /// <summary>Token chips with their positions; tokens that differ between prompt and counterfactual are highlighted.</summary>
    private static HtmlFragment TokenChips(IReadOnlyList<string> tokens, IReadOnlyList<string>? notes, IReadOnlyList<bool> changed) =>
        Html.SpaceSeparated(tokens.Select((t, p) =>
        {
            var tooltip = $"position {p}" + (notes is null ? "" : $", {notes[p]}");
            var chip = Html.Token(t, tooltip);
            return changed[p] ? Html.Element("mark", chip) : chip;
        }));

    // No '<' or '&' here: the page must stay well-formed XML.
    private const string Css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; background: #fff; margin: 24px auto; max-width: 1360px; padding: 0 16px; }
        h1 { font-size: 22px; }
        h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
        .note { color: #555; margin: 4px 0 14px; max-width: 960px; }
        .caption { max-width: 520px; font-size: 13px; color: #444; }
        .figures { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
        .tok { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; background: #f1f1f4; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px; white-space: pre; }
        mark { background: none; }
        mark .tok { background: #fde7c8; border-color: #e8a33d; }
        .prompt { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap; }
        table { border-collapse: collapse; font-size: 13px; }
        caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
        th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; vertical-align: top; }
        thead th, .properties th { background: #fafafa; font-weight: 600; }
        .properties th { white-space: nowrap; }
        .num { font-variant-numeric: tabular-nums; }
        thead ~ tbody td > .num { display: block; text-align: right; }
        svg.chart text { font-size: 12px; font-family: inherit; }
        svg.chart .chart-title { font-size: 14px; font-weight: 600; }
        svg.chart .value { font-size: 11px; text-anchor: middle; }
        """;
}

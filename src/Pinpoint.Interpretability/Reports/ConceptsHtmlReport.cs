using Pinpoint.Interpretability.Concepts;

namespace Pinpoint.Interpretability.Reports;

/// <summary>A <see cref="ConceptReport"/> as one self-contained page.</summary>
public static class ConceptsHtmlReport
{
    private static readonly string[] Palette = [ReportParts.Red, ReportParts.Blue, "#27ae60", "#8e44ad", "#d35400", "#16a085", ReportParts.Grey];

    public static string Render(ConceptReport r) =>
        Html.Document($"pinpoint concepts {r.Dataset}", ReportParts.Css, [Summary(r), Layers(r), Sparse(r), Classes(r), Weights(r)]);

    private static HtmlFragment Summary(ConceptReport r) =>
        Html.Section("summary", "Concepts", "Read at the last token of each text; held-out scores over grouped folds.",
            Html.Properties(
            [
                ("dataset", r.Dataset), ("items", Html.Number(r.Items, "F0")), ("classes", string.Join(", ", r.Classes)), ("best hook", r.BestHook),
                ("ablation", $"projecting {r.Ablation.Dimensions} direction(s) out at {r.Ablation.Hook}: accuracy at {r.Ablation.DownstreamHook} " +
                    $"{Html.Format(r.Ablation.AccuracyBefore)} → {Html.Format(r.Ablation.AccuracyAfter)} (random subspace {Html.Format(r.Ablation.RandomSubspaceAfter)})"),
            ]));

    private static HtmlFragment Layers(ConceptReport r)
    {
        List<LineSeries> series = [new("mass-mean accuracy", r.Layers.Select(l => l.Accuracy).ToList(), ReportParts.Grey, Dashed: true)];
        series.AddRange(r.Classes.Select((c, k) => new LineSeries($"AUC {c}", r.Layers.Select(l => l.Auc[k]).ToList(), Palette[k % Palette.Length])));
        return Html.Section("layers", "Concept direction per layer", "Held-out AUC of projecting onto each class's direction (class mean − other classes' means), and mass-mean accuracy.",
            Svg.Render(new LineChart("concept-layers", "direction per layer", "score", r.Layers.Select(l => ProbeHtmlReport.Short(l.Hook)).ToList(), series)));
    }

    private static HtmlFragment Sparse(ConceptReport r) =>
        Html.Section("sparse", "How concentrated", "Held-out F1 (one class vs the rest) of probes on the top-k neurons by class-mean difference, at the layer of the top neuron; the dense probe uses every neuron (dashed).",
            Html.Figures(r.PerClass.Where(c => c.Sparse.K.Length > 0).Select((c, i) => Svg.Render(new LineChart($"sparse-{i}", $"{c.Class} ({ProbeHtmlReport.Short(c.Sparse.Hook)})", "F1",
                c.Sparse.K.Select(k => $"k={k}").ToList(),
                [new("top-k neurons", c.Sparse.F1, ReportParts.Red), new("dense", c.Sparse.K.Select(_ => c.Sparse.DenseF1).ToList(), ReportParts.Grey, Dashed: true)])))));

    private static HtmlFragment Classes(ConceptReport r) =>
        Html.Section("classes", "Per class", "Top neurons by class-mean difference; the causal test adds the class direction at the best hook at the last token and reads the class word's logit margin.",
            Html.Table("per class", ["class", "top neurons", "causal effect", "random directions"], r.PerClass.Select(c => (IReadOnlyList<HtmlFragment>)
            [
                c.Class,
                string.Join("; ", c.TopNeurons.Select(n => $"{ProbeHtmlReport.Short(n.Hook)} #{n.Neuron} ({Html.Format(n.MeanDifference)})")),
                $"{c.Causal.Token.Replace(' ', '·')}: {Html.Format(c.Causal.Effect)}",
                $"{Html.Format(c.Causal.RandomMean)} ± {Html.Format(c.Causal.RandomSd)}",
            ])));

    private static HtmlFragment Weights(ConceptReport r) =>
        Html.Section("weights", "In the weights", "Largest |cosine| of each weight kind with the class direction at the best hook, against directions from shuffled labels; then the most aligned vectors.",
            Html.Table("alignment", ["class", "kind", "max |cos|", "shuffled mean ± sd", "p", "most aligned"], r.PerClass.SelectMany(c => c.Alignment.Select(a => (IReadOnlyList<HtmlFragment>)
            [
                c.Class, a.Kind, Html.Number(a.MaxAbsCosine), $"{Html.Format(a.ShuffledMean)} ± {Html.Format(a.ShuffledSd)}", Html.Number(a.PValue, "G2"),
                string.Join("; ", c.Weights.Where(w => Kind(w.Matrix) == a.Kind).Select(w => $"{w.Token?.Replace(' ', '·') ?? $"{w.Matrix}[{w.Index}]"} {Html.Format(w.Cosine)}")),
            ]))));

    private static string Kind(string matrix) => matrix == "embed.W_E" ? "embed" : matrix.EndsWith("W_out", StringComparison.Ordinal) ? "mlp_out" : "mlp_in";
}

using Pinpoint.Interpretability.Concepts;

namespace Pinpoint.Interpretability.Reports;

/// <summary>Probe and concept reports over a run's checkpoints: the best hook's curve with its controls, and a hook × step heatmap.</summary>
public static class AcrossTrainingHtmlReport
{
    public static string Render(ProbeAcrossTraining r)
    {
        var steps = Steps(r.Checkpoints.Select(c => c.Step));
        var first = r.Checkpoints[0].Report;
        bool classes = first.Classes is not null;
        string metric = classes ? "accuracy" : "R²";
        var best = r.Checkpoints.Select(c => (c.Report.Best.Accuracy ?? c.Report.Best.R2)!.Value).ToList();
        List<LineSeries> series =
        [
            new($"best hook's {metric}", best.Select(b => b.Mean).ToList(), ReportParts.Red, HalfWidths: best.Select(b => b.Ci95).ToList()),
            new("baseline", r.Checkpoints.Select(c => c.Report.Layers.Single(l => l.Hook == c.Report.Best.Hook).Baseline).ToList(), ReportParts.Blue, Dashed: true),
            new(classes ? "control task" : "shuffled targets", r.Checkpoints.Select(c => Control(c.Report.Layers.Single(l => l.Hook == c.Report.Best.Hook))).ToList(), ReportParts.Grey, Dashed: true),
        ];
        var hooks = first.Layers.Select(l => l.Hook).ToList();
        var values = hooks.Select(h => r.Checkpoints.Select(c => (c.Report.Layers.Single(l => l.Hook == h).Accuracy ?? c.Report.Layers.Single(l => l.Hook == h).R2)!.Value.Mean).ToArray()).ToArray();
        return Html.Document($"pinpoint probe across training {r.Run}", ReportParts.Css,
        [
            Html.Section("summary", "Probe across training", "The same probes, folds and controls at every checkpoint of the run.",
                Html.Properties([("run", r.Run), ("dataset", first.Dataset), ("items", Html.Number(first.Items, "F0")), ("method", first.Method), ("checkpoints", Html.Number(r.Checkpoints.Length, "F0"))])),
            Html.Section("curve", $"Best hook's held-out {metric} per step", "Mean over folds with its 95% interval (band); the best hook may change between steps.",
                Svg.Render(new LineChart("probe-steps", metric, metric, steps, series))),
            Html.Section("heatmap", $"Held-out {metric} per hook and step", "Rows are hooks, columns checkpoint steps.",
                Svg.Render(new Heatmap("probe-hook-steps", metric, hooks.Select(ProbeHtmlReport.Short).ToList(), steps, values, ColourScale.Sequential(Math.Max(1e-9, values.SelectMany(v => v).Where(double.IsFinite).DefaultIfEmpty(1).Max())), metric))),
        ]);
    }

    public static string Render(ConceptsAcrossTraining r)
    {
        var steps = Steps(r.Checkpoints.Select(c => c.Step));
        var first = r.Checkpoints[0].Report;
        var best = r.Checkpoints.Select(c => c.Report.Layers.Single(l => l.Hook == c.Report.BestHook).Accuracy).ToList();
        var effects = first.Classes.Select((name, k) => new LineSeries($"adding the {name} direction", r.Checkpoints.Select(c => c.Report.PerClass[k].Causal.Effect).ToList(),
            k == 0 ? ReportParts.Red : ReportParts.Blue, Dashed: k > 1)).ToList();
        effects.Add(new("random directions (mean)", r.Checkpoints.Select(c => c.Report.PerClass.Average(p => p.Causal.RandomMean)).ToList(), ReportParts.Grey, Dashed: true));
        var hooks = first.Layers.Select(l => l.Hook).ToList();
        var values = hooks.Select(h => r.Checkpoints.Select(c => c.Report.Layers.Single(l => l.Hook == h).Accuracy).ToArray()).ToArray();
        return Html.Document($"pinpoint concepts across training {r.Run}", ReportParts.Css,
        [
            Html.Section("summary", "Concepts across training", "The same concept analysis at every checkpoint of the run.",
                Html.Properties([("run", r.Run), ("dataset", first.Dataset), ("items", Html.Number(first.Items, "F0")), ("classes", string.Join(", ", first.Classes)), ("checkpoints", Html.Number(r.Checkpoints.Length, "F0"))])),
            Html.Section("curve", "Best hook's mass-mean accuracy per step", "Held out over grouped folds.",
                Svg.Render(new LineChart("concept-steps", "accuracy", "accuracy", steps,
                    [new("best hook", best, ReportParts.Red), new("chance", best.Select(_ => 1.0 / first.Classes.Length).ToList(), ReportParts.Grey, Dashed: true)]))),
            Html.Section("causal", "Causal test per step", "Mean change of the class token's logit margin when the class direction is added at the best hook, against random directions of the same norm.",
                Svg.Render(new LineChart("concept-causal", "logit margin change", "logits", steps, effects))),
            Html.Section("heatmap", "Mass-mean accuracy per hook and step", "Rows are hooks, columns checkpoint steps.",
                Svg.Render(new Heatmap("concept-hook-steps", "accuracy", hooks.Select(ProbeHtmlReport.Short).ToList(), steps, values, ColourScale.Sequential(1), "accuracy"))),
        ]);
    }

    private static double Control(ProbeLayer l) => l.ControlAccuracy ?? l.ControlR2 ?? double.NaN;

    private static List<string> Steps(IEnumerable<int> steps) => steps.Select(s => $"step {s}").ToList();
}

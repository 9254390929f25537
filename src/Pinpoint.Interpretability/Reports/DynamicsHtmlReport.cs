using System.Globalization;
using Pinpoint.Interpretability.Dynamics;

namespace Pinpoint.Interpretability.Reports;

/// <summary>
/// A <see cref="DynamicsReport"/> as one self-contained page: the metrics' curves over the same step axis, a
/// checkpoint slider that shows each checkpoint's layer × head heatmap (one inline script, nothing fetched), the
/// mechanisms with their formation steps, and the ablation checks.
/// </summary>
public static class DynamicsHtmlReport
{
    public static string Render(DynamicsReport r) =>
        Html.Document($"pinpoint dynamics {r.Run}", ReportParts.Css + "\n" + ViewSlider.Css,
        [
            Summary(r), Curves(r), PhaseChanges(r), Heads(r), Mechanisms(r), Ablation(r),
        ]);

    private static HtmlFragment Summary(DynamicsReport r)
    {
        var rows = new List<(string, HtmlFragment)>
        {
            ("run", Html.Element("code", r.Run)),
            ("checkpoints", $"{r.Checkpoints.Count}, steps {Step(r.Checkpoints[0].Step)} to {Step(r.Checkpoints[^1].Step)}"),
        };
        if (r.EarlyStep is { } early)
            rows.Add(("decided early?", $"at step {Step(early)} the logit difference first reaches half its final value; the top set there holds {Html.Format(r.EarlyOverlap!.Value, "P0")} of the final top set"));
        if (r.ConceptFormation is { } c)
            rows.Add(("concepts", $"{c.Concepts}: final probe accuracy {Html.Format(c.FinalAccuracy)} (chance {Html.Format(c.Baseline)}), half-way above chance at step {(c.StepHalf is { } s ? Step(s) : "- (never above chance)")}"));
        foreach (var skipped in r.Skipped) rows.Add(("skipped", skipped));
        return Html.Element("h1", "Training dynamics of " + Html.Element("code", r.Run)) + Html.Properties(rows);
    }

    /// <summary>Every metric against the step, one chart per scale; the charts share the x axis so a jump lines up across them.</summary>
    private static HtmlFragment Curves(DynamicsReport r)
    {
        XySeries Line(string name, Func<CheckpointDynamics, double?> value, string colour) =>
            new(name, r.Checkpoints.Where(c => value(c) is not null).Select(c => ((double)c.Step, value(c)!.Value)).ToList(), colour);
        var charts = new List<HtmlFragment>
        {
            Svg.Render(new XyChart("curve-loss", "Losses", "step", "loss",
                [Line("validation loss", c => c.ValLoss, ReportParts.Red), Line("repeated-half loss", c => c.RepeatedHalfLoss, ReportParts.Blue)], Step)),
        };
        var scores = new List<XySeries> { Line("induction", c => c.Induction, ReportParts.Red), Line("previous token", c => c.PrevToken, ReportParts.Blue) };
        if (r.Checkpoints[0].DatasetAccuracy is not null) scores.Add(Line("dataset accuracy", c => c.DatasetAccuracy, ReportParts.Grey));
        if (r.Checkpoints[0].Probe is not null) scores.Add(Line("probe accuracy", c => c.Probe?.Accuracy, Green));
        charts.Add(Svg.Render(new XyChart("curve-scores", "Scores", "step", "score", scores, Step)));
        if (r.Checkpoints[0].LogitDiff is not null)
            charts.Add(Svg.Render(new XyChart("curve-logit-diff", "Dataset logit difference", "step", "target − foil (logits)", [Line("mean logit difference", c => c.LogitDiff, ReportParts.Red)], Step)));
        return Html.Section("curves", "Curves",
            "Each checkpoint's metrics against its training step, on the same x axis. Induction and previous-token scores are the highest per-head scores on repeated random tokens; the repeated-half loss is the loss on their second half.",
            Html.Figures(charts));
    }

    private static HtmlFragment PhaseChanges(DynamicsReport r) =>
        Html.Section("phase-changes", "Phase changes",
            "For each metric, the interval between consecutive checkpoints where it changes fastest per step, and its change there.",
            Html.Table("phase changes", ["metric", "from step", "to step", "change"],
                r.PhaseChanges.Select(p => (IReadOnlyList<HtmlFragment>)[p.Metric, Html.Number(p.FromStep, "F0"), Html.Number(p.Step, "F0"), Html.Number(p.Size, "+0.000;-0.000;0.000")])));

    /// <summary>One heatmap per checkpoint on one colour scale; the slider shows one at a time.</summary>
    private static HtmlFragment Heads(DynamicsReport r)
    {
        if (r.Checkpoints[0].HeadEffects is null) return HtmlFragment.Concat([]);
        var scale = ColourScale.DivergingFor(r.Checkpoints.SelectMany(c => c.HeadEffects!.SelectMany(row => row)));
        var views = r.Checkpoints.Select(c =>
        {
            var heatmap = ReportParts.HeadHeatmap($"heads-step-{c.Step}", $"Heads at step {Step(c.Step)}, mean attribution-patching effect (logits)", c.HeadEffects!, scale, "mean effect");
            var top = Html.Element("p", "Top components: " + Html.SpaceSeparated(c.TopComponents.Select(t =>
                Html.Element("code", $"{t.Component} {Html.Format(t.Effect, "+0.00;-0.00;0.00")}"))), ("class", "caption"));
            return ("step " + Step(c.Step), heatmap + top);
        }).ToList();
        return Html.Section("heads", "Heads per checkpoint",
            "Move the slider to redraw the layer × head heatmap at another checkpoint: each head's mean attribution-patching effect on the dataset's target − foil difference, on one colour scale for all checkpoints.",
            ViewSlider.Render("checkpoint-slider", "checkpoint", views, views.Count - 1));
    }

    private static HtmlFragment Mechanisms(DynamicsReport r)
    {
        if (r.Formation.Count == 0 && r.ConceptFormation is null) return HtmlFragment.Concat([]);
        var early = r.EarlyStep is { } e ? r.Checkpoints.First(c => c.Step == e).TopComponents.Select(t => t.Component).ToHashSet() : [];
        var rows = r.Formation.Select(f => (IReadOnlyList<HtmlFragment>)
        [
            Html.Element("code", f.Component), Html.Number(f.FinalEffect, "+0.000;-0.000;0.000"),
            f.StepHalf is { } s ? Html.Number(s, "F0") : "- (final effect 0)",
            r.EarlyStep is null ? "-" : early.Contains(f.Component) ? "yes" : "no",
        ]).ToList();
        if (r.ConceptFormation is { } c)
            rows.Add([Html.Element("code", $"probe: {Path.GetFileName(c.Concepts)}"), Html.Number(c.FinalAccuracy), c.StepHalf is { } s ? Html.Number(s, "F0") : "- (at chance)", "-"]);
        return Html.Section("mechanisms", "Mechanisms",
            "The final checkpoint's top components, each formed at the first step where its effect reaches half its final value (the probe: half its final accuracy above chance); " +
            "'in early top set' says whether it already decides the task where the logit difference first reaches half its final value.",
            Html.Table("mechanisms", ["mechanism", "final effect (logits) / accuracy", "formation step", "in early top set"], rows));
    }

    private static HtmlFragment Ablation(DynamicsReport r)
    {
        if (r.Verification is not { Count: > 0 } checks) return HtmlFragment.Concat([]);
        HtmlFragment Versus(Pinpoint.Interpretability.Explain.DatasetVerification v) =>
            $"{Html.Format(v.TopKFractionRemoved, "P1")} vs {Html.Format(v.RandomKFractionRemoved, "P1")}";
        return Html.Section("ablation", "Ablation check",
            $"The heads and MLPs of the checkpoint's top set knocked out together in every item, beside random sets of the same kinds (mean of {Pinpoint.Interpretability.Explain.Verification.RandomDraws} draws): " +
            "share of the clean difference removed, summed over the items where the target wins.",
            Html.Table("ablation", ["step", "ablated together", "items", "mean ablation: top vs random", "resample ablation: top vs random"],
                checks.Select(v => (IReadOnlyList<HtmlFragment>)
                [
                    Html.Number(v.Step, "F0"), Html.SpaceSeparated(v.Components.Select(c => Html.Element("code", c))),
                    Html.Number(v.MeanAblation.Items, "F0"), Versus(v.MeanAblation), Versus(v.ResampleAblation),
                ])));
    }

    private const string Green = "#1a7f37";

    private static string Step(double step) => step.ToString("#,0", CultureInfo.InvariantCulture);
}

using System.Xml.Linq;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Loading;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Dynamics;

/// <summary>The tiny run analysed once with everything: dataset, concept set and the ablation check at steps 2 and 12.</summary>
public sealed class AnalysedTinyRun : IDisposable
{
    public TinyRun Run { get; } = new();
    public string Concepts { get; } = Path.Combine(SharedData.RepoRoot, "evals", "concepts", "nouns.jsonl");
    public IReadOnlyList<ScoreItem> Items { get; }
    public DynamicsReport Report { get; }

    public AnalysedTinyRun()
    {
        Items = EvalDataset.ReadScoreItems(Run.Dataset);
        Report = DynamicsAnalysis.Run(Run.Folder, new DynamicsOptions(Items, Top: 3, ProbeDataset.Read(Concepts, DynamicsAnalysis.ProbeFolds), VerifyAt: [2, 12]),
            cancel: TestContext.Current.CancellationToken);
    }

    public string Checkpoint(int step) => Path.Combine(Run.Folder, Pinpoint.Training.Trainer.CheckpointsFolder, $"step-{step:D7}");

    public void Dispose() => Run.Dispose();
}

public class DynamicsReportTests(AnalysedTinyRun analysed) : IClassFixture<AnalysedTinyRun>
{
    private DynamicsReport Report => analysed.Report;

    [Fact]
    public void AblationCheckAgreesWithAblatingTheSameSetItemByItem()
    {
        Assert.Equal([2, 12], Report.Verification!.Select(v => v.Step));
        using var final = ModelLoader.Load(analysed.Checkpoint(12));
        foreach (var check in Report.Verification!)
        {
            var top = Report.Checkpoints.Single(c => c.Step == check.Step).TopComponents.Select(t => t.Component);
            // The ablated set is the checkpoint's top set less what cannot be knocked out (embeddings).
            Assert.Equal(top.Where(n => System.Text.RegularExpressions.Regex.IsMatch(n, @"^(L\d+H\d+|MLP\d+)$")), check.Components);
            if (check.Components.Count == 0) continue;
            using var loaded = ModelLoader.Load(analysed.Checkpoint(check.Step));
            // Pooled as explain --dataset pools: removed share weighted by each right item's clean difference. Every
            // checkpoint is patched against the counterfactuals the final checkpoint's search chose.
            double removed = 0, total = 0;
            foreach (var item in analysed.Items)
            {
                var counterfactual = Prediction.Prepare(final, new ExplainRequest(item.Prompt, item.Target, item.Foil, item.Counterfactual)).Counterfactual;
                var single = SetAblation.Run(loaded, new ExplainRequest(item.Prompt, item.Target, item.Foil, counterfactual), check.Components, AblationKind.Resample);
                if (single.LogitDiff <= 0) continue;
                removed += single.FractionRemoved * single.LogitDiff;
                total += single.LogitDiff;
            }
            Assert.Equal(total > 0 ? removed / total : 0, check.ResampleAblation.TopKFractionRemoved, 4);
            Assert.Equal(check.Components.Count, check.MeanAblation.K);
            Assert.True(double.IsFinite(check.MeanAblation.TopKFractionRemoved) && double.IsFinite(check.MeanAblation.RandomKFractionRemoved));
        }
    }

    [Fact]
    public void ProbeAccuracyIsTheBestResidualProbePerCheckpoint()
    {
        var concepts = ProbeDataset.Read(analysed.Concepts, DynamicsAnalysis.ProbeFolds);
        using var loaded = ModelLoader.Load(analysed.Checkpoint(12));
        var direct = Prober.Run(loaded, concepts, Pinpoint.Interpretability.Activations.HookSelection.ResidualStream(loaded.Model.Config),
            new ProbeOptions { Folds = DynamicsAnalysis.ProbeFolds, Permutations = 0 }, cancellation: TestContext.Current.CancellationToken);
        var final = Report.Checkpoints[^1].Probe!;
        Assert.Equal(direct.Best.Hook, final.Hook);
        Assert.Equal(direct.Best.Accuracy!.Value.Mean, final.Accuracy, 12);
        Assert.All(Report.Checkpoints, c => Assert.InRange(c.Probe!.Accuracy, 0, 1));
        Assert.Contains(Report.PhaseChanges, p => p.Metric == "probe_accuracy");
        var formation = Report.ConceptFormation!;
        Assert.Equal(final.Accuracy, formation.FinalAccuracy);
        Assert.True(formation.StepHalf is null ? final.Accuracy <= final.Baseline : Report.Checkpoints.Any(c => c.Step == formation.StepHalf));
    }

    [Fact]
    public void ConceptFormationIsHalfwayAboveChance()
    {
        // Chance 0.25: half of the final 0.65 − 0.25 above chance is 0.45, first reached at step 4 (0.40 at step 2 falls short).
        ProbeScore P(double accuracy) => new("blocks.0.hook_resid_post", accuracy, 0.05, 0.25);
        var formation = DynamicsAnalysis.ConceptFormationOf("c.jsonl", [1, 2, 4, 8], [P(0.2), P(0.4), P(0.5), P(0.65)]);
        Assert.Equal(4, formation.StepHalf);
        Assert.Null(DynamicsAnalysis.ConceptFormationOf("c.jsonl", [1, 2], [P(0.3), P(0.25)]).StepHalf);
    }

    [Fact]
    public void HtmlHasAlignedCurvesASliderPerCheckpointAndTheMechanisms()
    {
        var page = DynamicsHtmlReport.Render(Report);
        var document = ExplainHtmlReportTests.Parse(page);
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
        Assert.DoesNotContain(document.Descendants().Attributes(), a => a.Name.LocalName is "src" or "href");
        Assert.DoesNotContain(document.Descendants(), e => e.Name.LocalName is "link" or "img" or "iframe" or "object" or "embed");
        Assert.Single(document.Descendants("script"));

        var charts = document.Descendants("svg").Select(s => (string?)s.Attribute("data-chart")).ToList();
        Assert.Contains("curve-loss", charts);
        Assert.Contains("curve-scores", charts);
        Assert.Contains("curve-logit-diff", charts);

        var slider = document.Descendants("input").Single(e => (string?)e.Attribute("id") == "checkpoint-slider");
        Assert.Equal((Report.Checkpoints.Count - 1).ToString(), (string?)slider.Attribute("max"));
        var views = document.Descendants("div").Where(e => (string?)e.Attribute("class") == "slider-view").ToList();
        Assert.Equal(Report.Checkpoints.Select(c => $"step {c.Step}"), views.Select(v => (string)v.Attribute("data-label")!));
        Assert.Equal([views[^1]], views.Where(v => v.Attribute("hidden") is null));
        // Each view's heatmap holds that checkpoint's head effects: the cell L1·H0 at step 4 says its value.
        var step4 = Report.Checkpoints.Single(c => c.Step == 4);
        var cell = views.Single(v => (string?)v.Attribute("data-label") == "step 4").Descendants("title").Select(t => t.Value).Single(t => t.StartsWith("L1 · H0:", StringComparison.Ordinal));
        Assert.Contains(Pinpoint.Reports.Html.Exact(step4.HeadEffects![1][0]), cell);

        var mechanisms = document.Descendants("section").Single(s => (string?)s.Attribute("id") == "mechanisms").Descendants("tbody").Single().Elements("tr").ToList();
        Assert.Equal(Report.Formation.Count + 1, mechanisms.Count); // the final top set and the probe
        Assert.Equal(Report.Formation.Select(f => f.Component), mechanisms.Take(Report.Formation.Count).Select(r => r.Elements("td").First().Value));
        var ablation = document.Descendants("section").Single(s => (string?)s.Attribute("id") == "ablation").Descendants("tbody").Single().Elements("tr");
        Assert.Equal(["2", "12"], ablation.Select(r => r.Elements("td").First().Value));
    }

    [Fact]
    public void CliWritesTheHtmlAndRefusesVerifyStepsWithoutACheckpoint()
    {
        var html = Path.Combine(analysed.Run.Folder, "dynamics.html");
        var result = Cli.Cli.Run("dynamics", "--run", analysed.Run.Folder, "--dataset", analysed.Run.Dataset, "--top", "2", "--verify-at", "none", "--html", html, "--json");
        var json = result.Json();
        Assert.Equal(0, json.GetProperty("verification").GetArrayLength());
        Assert.Equal(5, XDocument.Parse(File.ReadAllText(html).Replace("<!DOCTYPE html>", "")).Descendants("div").Count(e => (string?)e.Attribute("class") == "slider-view"));

        Cli.Cli.Run("dynamics", "--run", analysed.Run.Folder, "--dataset", analysed.Run.Dataset, "--verify-at", "3").AssertFailed(1, "no checkpoint at step 3 (checkpoints: 1, 2, 4, 8, 12)");
        Cli.Cli.Run("dynamics", "--run", analysed.Run.Folder, "--dataset", analysed.Run.Dataset, "--verify-at", "1,2,4,8").AssertFailed(1, "at most 3 steps");
        Cli.Cli.Run("dynamics", "--run", analysed.Run.Folder, "--verify-at", "1").AssertFailed(2, "needs --dataset");
        Cli.Cli.Run("dynamics", "--run", analysed.Run.Folder, "--concepts", analysed.Run.Dataset).AssertFailed(1, "dataset.jsonl");
    }
}

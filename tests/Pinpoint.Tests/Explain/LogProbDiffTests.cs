using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// Multi-token target vs foil by teacher-forced sequence log-probability (#16 item 2): one run row per answer, patched
/// and ablated together at every prompt position; known answers from the logit difference and from plain forwards.
/// </summary>
public class LogProbDiffTests
{
    private static readonly ExplainOptions Small = AnswerMetricTests.Small;
    private static readonly ScoreItem Item = AnswerMetricTests.Item;

    [Fact]
    public void WithSingleTokenAnswersItIsTheLogitDifferenceEverywhere()
    {
        using var loaded = NastyTokenReport.Load();
        var request = new ExplainRequest(Item.Prompt, Item.Target, Item.Foil, Item.Counterfactual);
        var plain = Explainer.Explain(loaded, request, Small);
        var diff = Explainer.Explain(loaded, request with { Metric = MetricKind.LogProbDiff }, Small);
        Assert.Equal(("logprob_diff", "nats"), (diff.Metric.Name, diff.Metric.Unit));
        // log p(t) − log p(f) = z_t − z_f: the log-softmax normaliser cancels, so values and gradients are the same.
        Assert.Equal(plain.LogitDiff, diff.Metric.Clean, 4);
        Assert.Equal(plain.Metric.Counterfactual, diff.Metric.Counterfactual, 4);
        AssertClose(Explainer.Cells(plain.Denoising), Explainer.Cells(diff.Denoising));
        AssertClose(Explainer.Cells(plain.AttributionDenoising), Explainer.Cells(diff.AttributionDenoising));
        AssertClose(Explainer.Cells(plain.IntegratedDenoising), Explainer.Cells(diff.IntegratedDenoising));
        Assert.Equal(plain.MeanAblation.Curve, diff.MeanAblation.Curve, (a, b) => Math.Abs(a - b) < 1e-3);
        var terms = diff.Metric.Terms!;
        Assert.Equal([("target", 1), ("foil", -1)], terms.Select(t => (t.Answer, t.Sign)));
        Assert.Equal(diff.Metric.Clean, terms.Sum(t => t.Sign * t.Clean), 4);
        Assert.Equal(diff.Metric.Counterfactual, terms.Sum(t => t.Sign * t.Counterfactual), 4);
    }

    public static TheoryData<string, string> Answers => new() { { " the ax", " a" }, { " a", " the ax" }, { " the ax", " a the" } };

    [Theory]
    [MemberData(nameof(Answers))]
    public void ItIsTheDifferenceOfPerTokenLogProbsFromSeparateForwards(string target, string foil)
    {
        using var loaded = NastyTokenReport.Load();
        var model = loaded.Model;
        var p = Prepare(loaded, target, foil);
        Assert.Equal(2, p.Run.BatchSize);
        double[] PerToken(int[] prompt, int[] answer) => answer.Select((token, i) => (double)LanguageModelling.LastLogProbs(model, [.. prompt, .. answer[..i]])[token]).ToArray();
        foreach (var (prompt, run) in new[] { (p.AnswerIds, p.Run), (p.CounterfactualAnswerIds, p.CounterfactualRun) })
        {
            var (t, f) = (PerToken(prompt, p.Target.Ids), PerToken(prompt, p.Foil.Ids));
            var logits = model.Forward(Compute.Eager, run);
            Assert.Equal(t.Sum() - f.Sum(), p.Metric.FromLogits(logits), 4);
            Assert.Equal([.. t, .. f], p.Metric.TermValues(logits)!, (a, b) => Math.Abs(a - b) < 1e-4);
        }

        var report = Explainer.Explain(loaded, new ExplainRequest(Item.Prompt, target, foil, Item.Counterfactual) { Metric = MetricKind.LogProbDiff }, Small);
        Assert.Equal(report.Target.LogProb!.Value - report.Foil.LogProb!.Value, report.Metric.Clean, 4);
        Assert.Equal(report.Target.TokenCount + report.Foil.TokenCount, report.Metric.Terms!.Count);
        Assert.Equal(report.Metric.Clean, report.Denoising.CleanDiff, 6);
        // The final residual stream at a position moves only that position's logits, in both rows: patched one position at
        // a time, the shares add up to all of the effect, and prompt positions before the answer carry none.
        var final = report.Denoising.ResidualByLayerPosition[^1];
        Assert.Equal(1, final.Sum(), 3);
        Assert.All(final[..(report.AnswerPosition)], share => Assert.Equal(0, share, 6));
    }

    [Fact]
    public void AblationAppliesToBothRowsAsIfEachRanAlone()
    {
        using var loaded = NastyTokenReport.Load();
        var model = loaded.Model;
        var p = Prepare(loaded, " a", " the ax");
        var set = new[] { new Component(ComponentKind.Head, 0, 1), new Component(ComponentKind.Neuron, 1, 3) };
        double Ablated(TokenBatch run, TokenBatch counterfactual, AnswerMetric metric) =>
            Verification.AblatedDiff(model, run, metric, Verification.Replacements(model, AblationKind.Resample, counterfactual, []), set);
        // Separately: the target row unpadded, the foil row as it is.
        int[] targetRow = [.. p.AnswerIds, .. p.Target.Ids[..^1]], cfTargetRow = [.. p.CounterfactualAnswerIds, .. p.Target.Ids[..^1]];
        int[] foilRow = [.. p.AnswerIds, .. p.Foil.Ids[..^1]], cfFoilRow = [.. p.CounterfactualAnswerIds, .. p.Foil.Ids[..^1]];
        double separate = Ablated(targetRow, cfTargetRow, AnswerMetric.LogProb(p.Target.Ids)) - Ablated(foilRow, cfFoilRow, AnswerMetric.LogProb(p.Foil.Ids));
        Assert.Equal(separate, Ablated(p.Run, p.CounterfactualRun, p.Metric), 4);
    }

    [Fact]
    public void AttributionGradientsMatchFiniteDifferences()
    {
        using var loaded = NastyTokenReport.Load();
        var model = loaded.Model;
        var p = Prepare(loaded, " the ax", " a the");
        string hook = HookNames.AttnOut(0);
        var (_, cache) = AttributionPatching.Gradients(model, p.Run, new HashSet<string> { hook }, p.Metric);
        var gradient = cache[hook].Grad!.ToArray();
        double Nudged(int index, float by) => p.Metric.FromLogits(model.RunWithHooks(p.Run, [(hook, (act, _) =>
        {
            var moved = act.Clone();
            moved.Span[index] += by;
            return moved;
        })]));
        // The largest gradient in each row (target and foil) and one in the prompt.
        int half = gradient.Length / 2;
        int Largest(int from, int to) => Enumerable.Range(from, to - from).MaxBy(i => Math.Abs(gradient[i]));
        foreach (int index in new[] { Largest(0, half), Largest(half, gradient.Length), Largest(0, model.Config.DModel) })
        {
            const float H = 1e-2f;
            double numeric = (Nudged(index, H) - Nudged(index, -H)) / (2 * H);
            Assert.True(Math.Abs(numeric - gradient[index]) <= 1e-3 + 0.02 * Math.Abs(numeric), $"element {index}: finite difference {numeric:F5}, gradient {gradient[index]:F5}");
        }
        Assert.True(Math.Abs(gradient[Largest(half, gradient.Length)]) > 1e-3, "the foil row must take a gradient");
    }

    [Fact]
    public void ADatasetOfMultiTokenAnswersIsMeasuredItemByItem()
    {
        using var loaded = NastyTokenReport.Load();
        var items = NastyTokenReport.Items.Take(2).Select(i => i with { Target = i.Target + "x", Foil = i.Foil + " the" }).ToList();
        var report = DatasetExplainer.Explain(loaded, items, Small, metric: MetricKind.LogProbDiff);
        Assert.Equal(("logprob_diff", "nats"), (report.Metric, report.Unit));
        for (int i = 0; i < items.Count; i++)
        {
            var p = Prediction.Prepare(loaded, new ExplainRequest(items[i].Prompt, items[i].Target, items[i].Foil, items[i].Counterfactual) { Metric = MetricKind.LogProbDiff });
            Assert.Equal(2, p.Run.BatchSize);
            Assert.Equal(p.Target.LogProb!.Value - p.Foil.LogProb!.Value, report.Items[i].MetricValue, 4);
        }
    }

    private static Prediction Prepare(Pinpoint.Models.Loading.LoadedModel loaded, string target, string foil) =>
        Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, target, foil, Item.Counterfactual) { Metric = MetricKind.LogProbDiff });

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-3, $"cell {i}: {expected[i]:F5} vs {actual[i]:F5}");
    }
}

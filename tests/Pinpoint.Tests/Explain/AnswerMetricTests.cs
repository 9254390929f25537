using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>Metrics over the logits (#16 item 2): gradients, teacher forcing, answer positions, and explain run with them.</summary>
public class AnswerMetricTests
{
    internal static readonly ExplainOptions Small = new() { TopK = 3, VerifyK = 2, IgSteps = 2, ReferencePrompts = ["xyz", "zyx the a"] };
    internal static readonly ScoreItem Item = NastyTokenReport.Items[0];

    public static TheoryData<string> Metrics => new() { "logit_diff", "logprob", "prob", "kl" };

    private static AnswerMetric Build(string name, float[][] clean) => name switch
    {
        "logit_diff" => AnswerMetric.LogitDiff(3, 7),
        "logprob" => AnswerMetric.LogProb([3, 5]),
        "prob" => AnswerMetric.Prob([3, 5]),
        _ => AnswerMetric.Kl(clean),
    };

    [Theory]
    [MemberData(nameof(Metrics))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var random = new Random(7);
        float[][] Rows() => [.. Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 12).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray())];
        var metric = Build(name, Rows());
        var rows = Rows();
        if (metric.Rows == 1) rows = [rows[1]];
        var gradient = metric.Gradient(rows);
        const float H = 1e-2f;
        for (int r = 0; r < rows.Length; r++)
            for (int v = 0; v < rows[r].Length; v++)
            {
                float keep = rows[r][v];
                rows[r][v] = keep + H;
                double up = metric.Value(rows);
                rows[r][v] = keep - H;
                double down = metric.Value(rows);
                rows[r][v] = keep;
                Assert.Equal((up - down) / (2 * H), gradient[r][v], 3);
            }
    }

    [Fact]
    public void SequenceLogProbIsTheSumOfPerTokenLogProbsFromSeparateForwards()
    {
        using var loaded = NastyTokenReport.Load();
        var model = loaded.Model;
        var prompt = Continuations.EncodePrompt(loaded, Item.Prompt, "prompt");
        int[] answer = [7, 8, 9]; // " the", " a", "x"
        var metric = AnswerMetric.LogProb(answer);
        double teacherForced = metric.FromLogits(model.Forward(Compute.Eager, TokenBatch.Single([.. prompt, .. answer[..^1]])));
        double separate = answer.Select((token, i) => LanguageModelling.LastLogProbs(model, [.. prompt, .. answer[..i]])[token]).Sum();
        Assert.Equal(separate, teacherForced, 5);
        Assert.Equal(Math.Exp(separate), AnswerMetric.Prob(answer).FromLogits(model.Forward(Compute.Eager, TokenBatch.Single([.. prompt, .. answer[..^1]]))), 6);

        // The prepared target carries the same numbers, per token and summed.
        var prediction = Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, " the ax", Item.Foil, Item.Counterfactual));
        Assert.Equal(answer, prediction.Target.Ids);
        Assert.Equal(separate, prediction.Target.LogProb!.Value, 5);
        Assert.Equal(3, prediction.Target.TokenLogProbs!.Count);
    }

    [Fact]
    public void ExplainMeasuresTheChosenMetricOnATeacherForcedMultiTokenTarget()
    {
        using var loaded = NastyTokenReport.Load();
        var request = new ExplainRequest(Item.Prompt, " the a", Item.Foil, Item.Counterfactual) { Metric = MetricKind.LogProb };
        var report = Explainer.Explain(loaded, request, Small);
        int promptTokens = Continuations.EncodePrompt(loaded, Item.Prompt, "prompt").Length;
        Assert.Equal(2, report.Target.TokenCount);
        Assert.Equal(promptTokens + 1, report.Tokens.Length); // the target's first token is fed, its second predicted
        Assert.Equal(promptTokens - 1, report.AnswerPosition);
        Assert.Equal(("logprob", "nats"), (report.Metric.Name, report.Metric.Unit));
        Assert.Equal(report.Target.LogProb!.Value, report.Metric.Clean, 4);
        Assert.Equal(report.Metric.Clean, report.Denoising.CleanDiff, 9);
        // Attribution patching differentiates the same metric: where it is linear (the final residual) its estimate is exact.
        Assert.Equal(report.Denoising.ResidualByLayerPosition[^1][^1], report.AttributionDenoising.ResidualByLayerPosition[^1][^1], 1);
        Assert.Contains(report.Summary.Sentences, s => s.Contains("measure logprob"));

        var kl = Explainer.Explain(loaded, request with { Metric = MetricKind.Kl }, Small);
        Assert.Equal(0, kl.Metric.Clean, 6); // the clean run's distance from itself
        Assert.True(kl.Metric.Counterfactual > 0);
    }

    [Fact]
    public void AnyFunctionOfTheLogitsIsAMetric()
    {
        using var loaded = NastyTokenReport.Load();
        var request = new ExplainRequest(Item.Prompt, Item.Target, Item.Foil, Item.Counterfactual)
        {
            CustomMetric = (ids, target, foil) => new AnswerMetric("target_logit", "logits", 1, rows => rows[0][target[0]], rows =>
            {
                var g = new float[rows[0].Length];
                g[target[0]] = 1;
                return [g];
            }),
        };
        var report = Explainer.Explain(loaded, request, Small);
        var ids = Continuations.EncodePrompt(loaded, Item.Prompt, "prompt");
        var logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: true).ToArray();
        Assert.Equal("target_logit", report.Metric.Name);
        Assert.Equal(logits[report.Target.Id], report.Metric.Clean, 5);
    }

    [Fact]
    public void APositionCutsThePromptThere()
    {
        using var loaded = NastyTokenReport.Load();
        var full = Continuations.EncodePrompt(loaded, Item.Prompt, "prompt");
        var prediction = Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, Item.Target, Item.Foil, Item.Counterfactual) { Position = 4 });
        Assert.Equal(full[..5], prediction.AnswerIds);
        Assert.Equal(5, prediction.CounterfactualAnswerIds.Length);
        var logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(full[..5]), lastPositionOnly: true);
        Assert.Equal(prediction.Readout.FromLogits(logits), prediction.Metric.FromLogits(logits), 9);
        var outside = Assert.Throws<ArgumentException>(() => Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, Item.Target, Item.Foil) { Position = full.Length }));
        Assert.Contains($"position {full.Length} is outside the prompt's {full.Length} tokens", outside.Message);
    }
}

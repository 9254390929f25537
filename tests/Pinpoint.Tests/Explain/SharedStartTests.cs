using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// Answers that share their first tokens (" the x" vs " the y"): every readout compares them where they first differ,
/// with the shared tokens fed after the prompt — known answers from plain forwards of prompt + " the".
/// </summary>
public class SharedStartTests
{
    private static readonly ExplainOptions Small = AnswerMetricTests.Small;
    private static readonly Pinpoint.Interpretability.Evaluation.ScoreItem Item = AnswerMetricTests.Item;

    private static double Difference(HookedTransformer model, int[] ids, int target, int foil)
    {
        var logits = model.Forward(Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: true).ToArray();
        return (double)logits[target] - logits[foil];
    }

    /// <summary>The shared start and the two differing tokens of " thex" vs " they".</summary>
    private static (int The, int X, int Y) Ids(Pinpoint.Models.Tokenizers.ITokenizer tokens) =>
        (tokens.Encode(" the", false).Single(), tokens.Encode("x", false).Single(), tokens.Encode("y", false).Single());

    [Fact]
    public void TheLensDirectAttributionAndCounterfactualReadWhereTheAnswersDiffer()
    {
        using var loaded = NastyTokenReport.Load();
        var (model, tokens) = (loaded.Model, loaded.Tokenizer);
        var (the, x, y) = Ids(tokens);
        var request = new ExplainRequest(Item.Prompt, " thex", " they", Item.Counterfactual);
        var report = Explainer.Explain(loaded, request, Small);
        var prompt = tokens.Encode(Item.Prompt, false);
        var counterfactual = tokens.Encode(Item.Counterfactual!, false);

        Assert.Equal((x, y), (report.Compared.TargetId, report.Compared.FoilId));
        Assert.Equal([" the"], report.Compared.Shared);
        Assert.Equal("compared at \"x\" vs \"y\" after the shared \" the\"", report.Compared.Text);
        Assert.Equal(prompt.Length, report.AnswerPosition);
        double expected = Difference(model, [.. prompt, the], x, y);
        Assert.Equal(expected, report.LogitDiff, 4);
        Assert.Equal(expected, report.Metric.Clean, 4);
        Assert.Equal(expected, report.LogitLens[^1].LogitDiff, 4);
        Assert.Equal(expected, report.DirectAttributionConstant + report.DirectAttribution.Sum(a => a.Value), 4);
        Assert.Equal(Difference(model, [.. counterfactual, the], x, y), report.Counterfactual.LogitDiff, 4);
        Assert.Contains(report.Compared.Text, report.Summary.Sentences[0]);
        Assert.True(Math.Abs(expected) > 1e-3, "the random model must tell x from y");
    }

    [Fact]
    public void TheCounterfactualSearchRanksCandidatesAfterTheSharedStart()
    {
        using var loaded = NastyTokenReport.Load();
        var (model, tokens) = (loaded.Model, loaded.Tokenizer);
        var (the, x, y) = Ids(tokens);
        var p = Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, " thex", " they"));
        Assert.Equal([.. p.CounterfactualAnswerIds[..^1], the], p.CounterfactualAnswerIds);
        Assert.NotEmpty(p.CounterfactualCandidates);
        foreach (var c in p.CounterfactualCandidates)
            Assert.Equal(Difference(model, [.. tokens.Encode(c.Text, false), the], x, y), c.LogitDiff, 4);
    }

    [Fact]
    public void SingleTokenAnswersAreComparedAtThePrompt()
    {
        using var loaded = NastyTokenReport.Load();
        var p = Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, Item.Target, Item.Foil, Item.Counterfactual));
        Assert.Empty(p.Compared.Shared);
        Assert.Equal(loaded.Tokenizer.Encode(Item.Prompt, false), p.AnswerIds);
        Assert.Equal("compared at \" the\" vs \" a\"", p.Compared.Text);
    }

    [Theory]
    [InlineData(" thex", " thex", "are the same tokens")]
    [InlineData(" the", " thex", "target \" the\" is the start of foil \" thex\"")]
    [InlineData(" thexy", " thex", "foil \" thex\" is the start of target \" thexy\"")]
    public void AnswersWithoutADifferingTokenAreRefused(string target, string foil, string message)
    {
        using var loaded = NastyTokenReport.Load();
        var error = Assert.Throws<ArgumentException>(() => Prediction.Prepare(loaded, new ExplainRequest(Item.Prompt, target, foil, Item.Counterfactual)));
        Assert.Contains(message, error.Message);
    }
}

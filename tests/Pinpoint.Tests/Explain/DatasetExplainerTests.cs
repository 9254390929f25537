using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Explain;

public class DatasetExplainerTests
{
    /// <summary>One letter per token ('a' = 0 … 'l' = 11), so prompts for the planted model can be written as text.</summary>
    internal sealed class LetterTokenizer : ITokenizer
    {
        public int VocabSize => 12;
        public int? Bos => null;
        public int? Eos => null;
        public bool AddsBosByDefault => false;
        public int[] Encode(string text, bool addBos) => text.Select(ch => ch - 'a').ToArray();
        public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false) => new(ids.ToArray().Select(i => (char)('a' + i)).ToArray());
        public string TokenText(int id) => ((char)('a' + id)).ToString();
        public bool IsSpecial(int id) => false;
        public bool TryGetId(string tokenText, out int id)
        {
            id = tokenText.Length == 1 ? tokenText[0] - 'a' : -1;
            return id is >= 0 and < 12;
        }
        public void Dispose() { }
    }

    /// <summary>Items for the planted model: the changed early token reaches the last position only through the planted head.</summary>
    private static readonly ScoreItem[] PlantedItems =
    [
        new("bjdefg", "i", "h", Counterfactual: "bcdefg"),
        new("ajdefg", "i", "h", Counterfactual: "acdefg"),
        new("bjdeff", "i", "h", Counterfactual: "bcdeff"),
        new("bjgefg", "i", "h", Counterfactual: "bcgefg"),
    ];

    private static DatasetExplainReport ExplainPlanted(LoadedModel loaded, MetricKind metric = MetricKind.LogitDiff) =>
        DatasetExplainer.Explain(loaded, PlantedItems, new ExplainOptions { VerifyK = 1, ReferencePrompts = ["abcdefgh", "lkjihgfe", "cacbdbed"] }, metric: metric);

    [Fact]
    public void ThePlantedHeadIsConsistentAndAblatingItRemovesEveryItemsEffect()
    {
        using var loaded = new LoadedModel(PlantedModel.Build(), new LetterTokenizer(), "planted", TensorFileFormat.Safetensors);
        var report = ExplainPlanted(loaded);

        var planted = new Component(ComponentKind.Head, PlantedModel.LiveLayer, PlantedModel.LiveHead);
        // Patching the planted head restores each item's whole effect (MLP0 may restore as much: the head reads its output).
        var top = report.Components.First(c => c.Component.Kind == ComponentKind.Head);
        Assert.Equal(planted, top.Component);
        Assert.Equal(report.Effect.Mean, top.Effect.Mean, 5);
        Assert.Equal(1.0, top.Share, 5);
        Assert.Equal(Consistency.Consistent, top.Consistency);
        Assert.All(report.Components.Where(c => c.Component.Kind == ComponentKind.Head && c.Component != planted),
            c => Assert.Equal(Consistency.Negligible, c.Consistency));
        Assert.Equal(report.Items.Select(i => i.LogitDiff - i.CounterfactualLogitDiff).Average(), report.Effect.Mean, 9);

        // Resampling the planted head from each counterfactual removes exactly clean − counterfactual in every item.
        Assert.Equal([planted], report.Verified);
        var right = report.Items.Where(i => i.LogitDiff > 0).ToList();
        Assert.NotEmpty(right);
        double expected = right.Sum(i => i.LogitDiff - i.CounterfactualLogitDiff) / right.Sum(i => i.LogitDiff);
        Assert.Equal(expected, report.ResampleAblation.TopKFractionRemoved, 4);
        Assert.Equal(right.Count, report.ResampleAblation.Items);
        Assert.All(report.Items, i => Assert.True(double.IsFinite(i.Spearman) || i.LogitDiff == i.CounterfactualLogitDiff));
        // Each item on its own finds the same head, so its own top-1 removes the same.
        Assert.All(report.Items, i => Assert.Equal([planted], i.OwnTopK));
        Assert.Equal(expected, report.OwnResampleAblation.TopKFractionRemoved, 4);
        Assert.Equal(right.Average(i => (i.LogitDiff - i.CounterfactualLogitDiff) / i.LogitDiff), report.OwnResampleAblation.MeanItemFraction, 4);
    }

    [Fact]
    public void DatasetModeMeasuresTheChosenMetricPerItem()
    {
        using var loaded = new LoadedModel(PlantedModel.Build(), new LetterTokenizer(), "planted", TensorFileFormat.Safetensors);
        var report = ExplainPlanted(loaded, MetricKind.LogProb);
        Assert.Equal("logprob", report.Metric);
        Assert.Equal("nats", report.Unit);

        // Known answers, from a plain forward of each prompt: log p(target) at the last position, and the logit difference beside it.
        (double LogProb, double LogitDiff) Brute(string prompt, string target, string foil)
        {
            var row = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(loaded.Tokenizer.Encode(prompt, false)), lastPositionOnly: true).ToArray();
            int t = target[0] - 'a', f = foil[0] - 'a';
            return (LanguageModelling.LogSoftmax(row)[t], row[t] - row[f]);
        }
        for (int i = 0; i < PlantedItems.Length; i++)
        {
            var (clean, counterfactual) = (Brute(PlantedItems[i].Prompt, "i", "h"), Brute(PlantedItems[i].Counterfactual!, "i", "h"));
            var result = report.Items[i];
            Assert.Equal(clean.LogProb, result.MetricValue, 4);
            Assert.Equal(counterfactual.LogProb, result.CounterfactualMetricValue, 4);
            Assert.Equal(clean.LogitDiff, result.LogitDiff, 4);
            Assert.Equal(counterfactual.LogitDiff, result.CounterfactualLogitDiff, 4);
        }
        Assert.Equal(report.Items.Average(i => i.MetricValue - i.CounterfactualMetricValue), report.Effect.Mean, 9);
        // The planted head is still the one path: patching it restores the whole change in log-probability.
        var top = report.Components.First(c => c.Component.Kind == ComponentKind.Head);
        Assert.Equal(new Component(ComponentKind.Head, PlantedModel.LiveLayer, PlantedModel.LiveHead), top.Component);
        Assert.Equal(1.0, top.Share, 4);
    }

    [Fact]
    public void AnItemThatCannotBePatchedNamesItsLine()
    {
        using var loaded = new LoadedModel(PlantedModel.Build(), new LetterTokenizer(), "planted", TensorFileFormat.Safetensors);
        ScoreItem[] items = [new("bcdefg", "h", "i", Source: "set.jsonl:7", Counterfactual: "bcdef")];
        var e = Assert.Throws<ArgumentException>(() => DatasetExplainer.Explain(loaded, items));
        Assert.StartsWith("set.jsonl:7: the counterfactual has 5 tokens", e.Message);
    }
}

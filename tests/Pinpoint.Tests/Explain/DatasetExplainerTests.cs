using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
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

    [Fact]
    public void ThePlantedHeadIsConsistentAndAblatingItRemovesEveryItemsEffect()
    {
        using var loaded = new LoadedModel(PlantedModel.Build(), new LetterTokenizer(), "planted", TensorFileFormat.Safetensors);
        // The changed early token reaches the last position only through the planted head.
        ScoreItem[] items =
        [
            new("bjdefg", "i", "h", Counterfactual: "bcdefg"),
            new("ajdefg", "i", "h", Counterfactual: "acdefg"),
            new("bjdeff", "i", "h", Counterfactual: "bcdeff"),
            new("bjgefg", "i", "h", Counterfactual: "bcgefg"),
        ];
        var report = DatasetExplainer.Explain(loaded, items, new ExplainOptions { VerifyK = 1, ReferencePrompts = ["abcdefgh", "lkjihgfe", "cacbdbed"] });

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
    public void AnItemThatCannotBePatchedNamesItsLine()
    {
        using var loaded = new LoadedModel(PlantedModel.Build(), new LetterTokenizer(), "planted", TensorFileFormat.Safetensors);
        ScoreItem[] items = [new("bcdefg", "h", "i", Source: "set.jsonl:7", Counterfactual: "bcdef")];
        var e = Assert.Throws<ArgumentException>(() => DatasetExplainer.Explain(loaded, items));
        Assert.StartsWith("set.jsonl:7: the counterfactual has 5 tokens", e.Message);
    }
}

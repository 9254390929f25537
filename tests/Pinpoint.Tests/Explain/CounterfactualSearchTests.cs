using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;

namespace Pinpoint.Tests.Explain;

/// <summary>Automatic counterfactuals (#16 item 3): same-kind swaps that keep the tokenization, ranked by how far they move the answer; resampling from a pool.</summary>
public class CounterfactualSearchTests
{
    private static LoadedModel Embedded() => ModelLoader.Load(Path.Combine(AppContext.BaseDirectory, "models", "default"));

    private static readonly ExplainRequest Article = ExplainRequest.ArticleExample;

    [Fact]
    public void SwapsAreOfTheSameKindKeepTheTokenizationAndAreRankedByTheirEffect()
    {
        using var loaded = Embedded();
        var ids = Continuations.EncodePrompt(loaded, Article.Prompt, "prompt");
        var readout = Prediction.Prepare(loaded, Article).Readout;
        var choice = CounterfactualSearch.Build(loaded, ids, [], readout);

        Assert.Equal(loaded.Tokenizer.Encode(choice.Text, false), choice.Ids);
        int changed = Enumerable.Range(0, ids.Length).Single(p => ids[p] != choice.Ids[p]);
        string before = loaded.Tokenizer.TokenText(ids[changed]), after = loaded.Tokenizer.TokenText(choice.Ids[changed]);
        Assert.Equal(before.StartsWith(' '), after.StartsWith(' '));
        Assert.Equal(char.IsUpper(before.TrimStart()[0]), char.IsUpper(after.TrimStart()[0]));
        // Best first, the chosen one's difference is the first, and it is what the model gives after it.
        var diffs = choice.Ranked.Select(c => c.LogitDiff).ToList();
        Assert.Equal(diffs.Order(), diffs);
        Assert.Equal(choice.Text, choice.Ranked[0].Text);
        var logits = Continuations.LastLogits(loaded, [choice.Ids], batchSize: 1)[0];
        Assert.Equal(logits[readout.Target] - logits[readout.Foil], diffs[0], 4);
        Assert.Contains($"to {diffs[0]:0.00}", choice.Origin);
    }

    [Fact]
    public void WhenNoSingleSwapHalvesTheDifferenceTheBestSwapsArePaired()
    {
        using var loaded = Embedded();
        // Item 173 of evals/articles.jsonl: its best single swap keeps 1.13 of the clean 2.16 logits.
        var item = EvalDataset.ReadScoreItems(Path.Combine(SharedData.RepoRoot, "evals", "articles.jsonl")).ElementAt(172);
        var prediction = Prediction.Prepare(loaded, new ExplainRequest(item.Prompt, item.Target, item.Foil));
        var ids = prediction.Ids;
        var choice = CounterfactualSearch.Build(loaded, ids, [], prediction.Readout);

        Assert.StartsWith("swapped tokens", choice.Origin);
        Assert.Equal(2, Enumerable.Range(0, ids.Length).Count(p => ids[p] != choice.Ids[p]));
        Assert.Equal(loaded.Tokenizer.Encode(choice.Text, false), choice.Ids);
        var logits = Continuations.LastLogits(loaded, [ids, choice.Ids], batchSize: 2);
        var readout = prediction.Readout;
        double clean = logits[0][readout.Target] - logits[0][readout.Foil];
        double paired = logits[1][readout.Target] - logits[1][readout.Foil];
        Assert.True(paired < CounterfactualSearch.WeakShare * clean, $"the pair keeps {paired:0.00} of {clean:0.00}");
        Assert.Equal(choice.Text, choice.Ranked[0].Text);
        Assert.Equal(choice.Ranked.Select(c => c.LogitDiff).Order(), choice.Ranked.Select(c => c.LogitDiff));
        Assert.Contains($"below half of {clean:0.00}", choice.Origin);
    }

    [Fact]
    public void ResamplingDrawsTheEqualLengthPromptThatMovesTheAnswerMost()
    {
        using var loaded = Embedded();
        var ids = Continuations.EncodePrompt(loaded, Article.Prompt, "prompt");
        var readout = Prediction.Prepare(loaded, Article).Readout;
        string[] pool = [Article.Counterfactual!, "Tom had a big red ball. One day he found", "A much longer prompt that cannot be paired with the article prompt at all."];
        var choice = CounterfactualSearch.FromPool(loaded, ids, [], readout, pool, "pool.jsonl");
        Assert.Equal(2, choice.Ranked.Count); // the long prompt has another length
        Assert.True(choice.Ranked[0].LogitDiff <= choice.Ranked[1].LogitDiff);
        Assert.Contains("drawn from pool.jsonl", choice.Origin);
        var none = Assert.Throws<ArgumentException>(() => CounterfactualSearch.FromPool(loaded, ids, [], readout, [pool[2]], "pool.jsonl"));
        Assert.Contains("pool.jsonl: no prompt has the prompt's", none.Message);
    }
}

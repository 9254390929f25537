using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Evaluation;

/// <summary>Scorer, KnowledgeProbe and the JSONL reader, on stories260K (SentencePiece, BOS) and gpt2-random (byte-level BPE, no BOS).</summary>
public class ScoreTests
{
    private static LoadedModel Load(string model) => model == "stories"
        ? ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.bin"))
        : ModelLoader.Load(SharedData.Require("models/gpt2-random"));

    public static TheoryData<string> Models => new() { "stories", "gpt2" };

    /// <summary>Prompts of different lengths, so a batch of them is padded; " the" and " a" are single tokens in both vocabularies.</summary>
    private static readonly ScoreItem[] Items =
    [
        new("Once upon a time there was", " a", " the", "new"),
        new("Lily had a red ball. She threw the ball to Tom. Then Tom kicked", " the", " a", "known"),
        new("The dog ran to", " the", " a"),
        new("He saw", " a", " the"),
        new("Tim and Sue went to the park. At the park they saw a big tree. They sat under", " the", " a", "known"),
    ];

    private static float[] LastLogits(LoadedModel m, string prompt)
    {
        var ids = m.Encode(prompt);
        return m.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).Span[^m.Model.Config.VocabSize..].ToArray();
    }

    private static int Id(LoadedModel m, string surface)
    {
        Assert.True(m.Tokenizer.TryGetId(surface, out var id), $"no token {surface}");
        return id;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LogitDiffIsTheDifferenceOfTheForwardLogits(string model)
    {
        using var m = Load(model);
        var report = Scorer.Score(m, Items);
        Assert.Equal(Items.Length, report.Items.Count);
        for (int i = 0; i < Items.Length; i++)
        {
            var s = report.Items[i];
            var logits = LastLogits(m, Items[i].Prompt);
            int t = Id(m, Items[i].Target), f = Id(m, Items[i].Foil);
            Assert.Equal(t, s.TargetId);
            Assert.Equal(f, s.FoilId);
            Assert.Equal(1, s.TargetTokens);
            Assert.Equal(1, s.FoilTokens);
            Assert.Equal(logits[t] - logits[f], s.LogitDiff, 1e-4f);
            Assert.Equal(s.LogitDiff > 0, s.Correct);
        }
        Assert.Equal(report.Items.Count(s => s.Correct) / (double)Items.Length, report.Accuracy);
        Assert.Equal(["new", "known"], report.Groups.Select(g => g.Group));
        Assert.Equal(2, report.Groups[1].Count);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void PaddedBatchEqualsOneByOne(string model)
    {
        using var m = Load(model);
        var one = Scorer.Score(m, Items, batchSize: 1);
        var padded = Scorer.Score(m, Items, batchSize: Items.Length);
        var pairs = Scorer.Score(m, Items, batchSize: 2);
        for (int i = 0; i < Items.Length; i++)
        {
            Assert.Equal(one.Items[i].TargetLogit, padded.Items[i].TargetLogit, 1e-4f);
            Assert.Equal(one.Items[i].FoilLogit, padded.Items[i].FoilLogit, 1e-4f);
            Assert.Equal(one.Items[i].LogitDiff, pairs.Items[i].LogitDiff, 1e-4f);
        }
    }

    [Fact]
    public void SentencePieceContinuationHasNoDummyPrefixPiece()
    {
        using var m = Load("stories");
        // Encoded on its own without BOS, " the" gets SentencePiece's dummy prefix: "▁" + "▁the" (or similar);
        // as a continuation of the prompt it is the single piece "▁the".
        var alone = m.Tokenizer.Encode(" the", addBos: false);
        Assert.NotEqual([Id(m, "▁the")], alone);
        var s = Scorer.Score(m, [new ScoreItem("Once upon a time there was", " the", " a")]).Items[0];
        Assert.Equal(Id(m, "▁the"), s.TargetId);
        Assert.Equal(Id(m, "▁a"), s.FoilId);
        Assert.Equal(1, s.TargetTokens);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void MultiTokenTargetKeepsItsFirstTokenAndReportsTheCount(string model)
    {
        using var m = Load(model);
        const string prompt = "Tom picked";
        var s = Scorer.Score(m, [new ScoreItem(prompt, " an apple", " a")]).Items[0];
        var promptIds = m.Encode(prompt);
        var full = m.Tokenizer.Encode(prompt + " an apple", m.Model.Config.AddBos);
        Assert.Equal(promptIds, full[..promptIds.Length]);
        Assert.Equal(full.Length - promptIds.Length, s.TargetTokens);
        Assert.True(s.TargetTokens > 1);
        Assert.Equal(full[promptIds.Length], s.TargetId);
        Assert.Equal(1, s.FoilTokens);
        var logits = LastLogits(m, prompt);
        Assert.Equal(logits[s.TargetId] - logits[s.FoilId], s.LogitDiff, 1e-4f);
    }

    [Fact]
    public void ContinuationThatMergesWithThePromptIsAnError()
    {
        using var m = Load("gpt2");
        // "th" + "e" re-tokenizes the prompt's last token, so the prompt's tokens are not a prefix.
        var e = Assert.Throws<InvalidDataException>(() => Scorer.Score(m, [new ScoreItem("I saw th", "e", " a", Source: "x.jsonl:7")]));
        Assert.Contains("x.jsonl:7", e.Message);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void KnowledgeProbeRanksTheBestAnswer(string model)
    {
        using var m = Load(model);
        var items = new[] { new KnowledgeItem("Once upon a time there was", [" a", " the"]), new KnowledgeItem("He saw", [" the"]) };
        var report = KnowledgeProbe.Probe(m, items, topK: 3);
        Assert.Equal(3, report.TopK);
        for (int i = 0; i < items.Length; i++)
        {
            var logits = LastLogits(m, items[i].Prompt);
            var order = Enumerable.Range(0, logits.Length).OrderByDescending(j => logits[j]).ThenBy(j => j).ToList();
            int best = items[i].Answers.Select(a => order.IndexOf(Id(m, a)) + 1).Min();
            Assert.Equal(best, report.Items[i].Rank);
            Assert.Equal(best <= 3, report.Items[i].Hit);
            Assert.Equal(order.IndexOf(report.Items[i].AnswerId) + 1, best);
        }
        Assert.Equal(report.Items.Count(p => p.Hit) / 2.0, report.HitRate);
    }

    [Fact]
    public void JsonlReaderAllowsBlankLinesAndExtraFields()
    {
        var path = TempFile("""
            {"prompt":"a b","target":" c","foil":" d","group":"g","note":"ignored","n":3}

            {"prompt":"e","target":" f","foil":" g"}
            """);
        try
        {
            var items = EvalDataset.ReadScoreItems(path);
            Assert.Equal(2, items.Count);
            Assert.Equal(new ScoreItem("a b", " c", " d", "g", $"{path}:1"), items[0]);
            Assert.Equal($"{path}:3", items[1].Source);
            Assert.Null(items[1].Group);
            Assert.Equal(EvalKind.TargetFoil, EvalDataset.DetectKind(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("{\"prompt\":\"a\",\"target\":\" b\"", "not valid JSON")]
    [InlineData("{\"prompt\":\"a\",\"target\":\" b\"}", "missing \"foil\"")]
    [InlineData("{\"prompt\":\"a\",\"target\":\" b\",\"foil\":3}", "\"foil\" must be a non-empty string")]
    [InlineData("{\"target\":\" b\",\"foil\":\" c\"}", "missing \"prompt\"")]
    [InlineData("[1,2]", "expected a JSON object")]
    public void MalformedLineNamesFileAndLine(string bad, string problem)
    {
        var path = TempFile("{\"prompt\":\"x\",\"target\":\" y\",\"foil\":\" z\"}\n\n" + bad + "\n");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => EvalDataset.ReadScoreItems(path));
            Assert.StartsWith($"{path}:3: ", e.Message);
            Assert.Contains(problem, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void KnowledgeReaderChecksAnswers()
    {
        var path = TempFile("{\"prompt\":\"x\",\"answers\":[\" y\"]}\n{\"prompt\":\"x\",\"answers\":[]}\n");
        try
        {
            Assert.Equal(EvalKind.Answers, EvalDataset.DetectKind(path));
            var e = Assert.Throws<InvalidDataException>(() => EvalDataset.ReadKnowledgeItems(path));
            Assert.StartsWith($"{path}:2: ", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EmptyDatasetIsAnError()
    {
        var path = TempFile("\n  \n");
        try
        {
            Assert.Contains("no items", Assert.Throws<InvalidDataException>(() => EvalDataset.ReadScoreItems(path)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string TempFile(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pinpoint-score-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, text);
        return path;
    }
}

/// <summary>The committed evaluation sets under evals/: they parse and have the structure their README describes.</summary>
public class ScoreDatasetTests
{
    private static string Eval(string name) => Path.Combine(SharedData.RepoRoot, "evals", name);

    private static bool IsWordWithLeadingSpace(string s) => s.Length > 1 && s[0] == ' ' && s[1..].All(char.IsAsciiLetterLower);

    [Fact]
    public void ArticlesHaveTwoBalancedGroupsOfSingleWordChoices()
    {
        var items = EvalDataset.ReadScoreItems(Eval("articles.jsonl"));
        Assert.True(items.Count >= 200, $"{items.Count} items");
        Assert.All(items, i => Assert.Contains(i.Group, new[] { "the_vs_a", "an_vs_a" }));
        Assert.Equal(items.Count, items.Select(i => i.Prompt).Distinct().Count());
        foreach (var i in items)
        {
            Assert.True(IsWordWithLeadingSpace(i.Target) && IsWordWithLeadingSpace(i.Foil), $"{i.Source}: {i.Target}/{i.Foil}");
            Assert.False(char.IsWhiteSpace(i.Prompt[^1]), $"{i.Source}: the prompt ends in whitespace");
            Assert.NotEqual(i.Target, i.Foil);
            var pair = new[] { i.Target, i.Foil }.Order().ToArray();
            Assert.Equal(i.Group == "the_vs_a" ? [" a", " the"] : new[] { " a", " an" }, pair);
        }
        // Within each group the right answer is each option equally often, so a constant guess scores 50%.
        foreach (var g in items.GroupBy(i => i.Group))
        {
            var byTarget = g.GroupBy(i => i.Target).ToDictionary(t => t.Key, t => t.Count());
            Assert.Equal(2, byTarget.Count);
            Assert.Equal(byTarget.Values.First(), byTarget.Values.Last());
            Assert.True(g.Count() >= 100, $"{g.Key}: {g.Count()} items");
        }
    }

    [Fact]
    public void ArticlePromptsAreNotNearDuplicates()
    {
        var items = EvalDataset.ReadScoreItems(Eval("articles.jsonl"));
        // No two prompts share their last six words (the context that decides the answer).
        var tails = items.Select(i => string.Join(' ', i.Prompt.Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeLast(6))).ToList();
        var dup = tails.GroupBy(t => t).FirstOrDefault(g => g.Count() > 1);
        Assert.True(dup is null, $"prompts ending in '{dup?.Key}' appear {dup?.Count()} times");
    }

    [Fact]
    public void ArticleTargetsAreSingleTokensUnderTheByteLevelTokenizer()
    {
        // gpt2-random's vocabulary is tiny, but " the" and " a" are tokens in it, and its pre-tokenizer splits
        // every item at the same boundary a full GPT-2 vocabulary would (a space starts the continuation's token).
        using var m = ModelLoader.Load(SharedData.Require("models/gpt2-random"));
        var items = EvalDataset.ReadScoreItems(Eval("articles.jsonl")).Where(i => i.Group == "the_vs_a").ToList();
        var report = Scorer.Score(m, items, batchSize: 32);
        Assert.All(report.Items, s => Assert.Equal((1, 1), (s.TargetTokens, s.FoilTokens)));
    }

    [Fact]
    public void KnowledgeItemsParse()
    {
        var items = EvalDataset.ReadKnowledgeItems(Eval("knowledge.jsonl"));
        Assert.True(items.Count >= 60, $"{items.Count} items");
        Assert.Equal(EvalKind.Answers, EvalDataset.DetectKind(Eval("knowledge.jsonl")));
        Assert.All(items, i => Assert.All(i.Answers, a => Assert.True(a.Length > 1 && a[0] == ' ', $"{i.Source}: answer '{a}'")));
        Assert.Equal(items.Count, items.Select(i => i.Prompt).Distinct().Count());
    }
}

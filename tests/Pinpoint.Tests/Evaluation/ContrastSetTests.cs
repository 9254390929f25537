using Pinpoint.Cli;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Training;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Evaluation;

/// <summary>Score items from running text (<see cref="ContrastSet"/>, <c>pinpoint contrasts</c>) on the embedded model's tokenizer.</summary>
public sealed class ContrastSetTests
{
    private static LoadedModel Embedded() => ModelLoader.Load(ModelOptions.DefaultModelPath);

    // Five documents: " an" 4 times, " a" 5 times; "I saw an", "Mia read a" and "There was a" have under 4 tokens before the word.
    private static readonly string[] Documents =
    [
        "Tom went to the farm and saw an owl on a fence.",
        "I saw an apple.",
        "Mia read a book about an elephant and a tiger in the zoo.",
        "The old man gave the boy a coin and an orange.",
        "There was a cat.",
    ];

    private static string Corpus(TempDir dir)
    {
        var path = dir.File("corpus.txt");
        File.WriteAllText(path, string.Join($"\n{CorpusReader.DocumentSeparator}\n", Documents));
        return path;
    }

    [Fact]
    public void EveryOccurrenceIsFoundAndTheItemsAreBalancedPromptsThatEndRightBeforeTheWord()
    {
        using var dir = new TempDir();
        using var loaded = Embedded();
        var set = ContrastSet.Build(loaded, [Corpus(dir)], " an", " a", context: 64);

        Assert.Equal(5, set.Documents);
        Assert.Equal([(" an", 4), (" a", 5)], set.Words.Select(w => (w.Word, w.Occurrences)));
        // Three of each word remain.
        Assert.Equal(3, set.ShortContext);
        Assert.All(set.Words, w => Assert.Equal(3, w.Items));
        Assert.Equal(6, set.Items.Count);
        Assert.Equal(3, set.Items.Count(i => i.Target == " an" && i.Foil == " a" && i.Group == " an"));
        Assert.Equal(3, set.Items.Count(i => i.Target == " a" && i.Foil == " an"));
        foreach (var item in set.Items)
        {
            // The prompt is the document up to the word, and the word is what comes next there.
            var document = Documents[item.Document];
            var ids = loaded.Tokenizer.Encode(document, addBos: false);
            Assert.Equal(loaded.Tokenizer.Encode(item.Prompt, addBos: false), ids[..item.Position]);
            Assert.Equal(loaded.Tokenizer.Encode(item.Target, addBos: false).Single(), ids[item.Position]);
            Assert.StartsWith(item.Prompt, document);
            Assert.Equal(loaded.Tokenizer.TokenText(ids[item.Position + 1]), item.Next);
        }
        Assert.Contains(set.Items, i => i.Target == " an" && i.Next == " orange" && i.Prompt == "The old man gave the boy a coin and");
    }

    [Fact]
    public void TheContextCutKeepsTheLastTokensAndTheDrawDependsOnlyOnTheSeed()
    {
        using var dir = new TempDir();
        using var loaded = Embedded();
        var corpus = Corpus(dir);
        var set = ContrastSet.Build(loaded, [corpus], " an", " a", context: 4, perWord: 2, seed: 7);
        Assert.Equal(4, set.Items.Count);
        Assert.All(set.Items, i => Assert.Equal(4, loaded.Tokenizer.Encode(i.Prompt, addBos: false).Length));
        var again = ContrastSet.Build(loaded, [corpus], " an", " a", context: 4, perWord: 2, seed: 7);
        Assert.Equal(set.Items, again.Items);
    }

    [Fact]
    public void TheSplitIsTheTrainersHashSplitOfTheDocuments()
    {
        using var dir = new TempDir();
        using var loaded = Embedded();
        var path = dir.File("many.txt");
        var documents = Enumerable.Range(0, 200).Select(i => $"Story {i}: the girl found an egg and a feather in the yard.").ToArray();
        File.WriteAllText(path, string.Join($"\n{CorpusReader.DocumentSeparator}\n", documents));
        var validation = ContrastSet.Build(loaded, [path], " an", " a", 64, keepDocument: i => TokenDataset.IsValidationDocument(i, 0.1));
        var train = ContrastSet.Build(loaded, [path], " an", " a", 64, keepDocument: i => !TokenDataset.IsValidationDocument(i, 0.1));
        long expected = Enumerable.Range(0, 200).Count(i => TokenDataset.IsValidationDocument(i, 0.1));
        Assert.InRange(expected, 5, 40);
        Assert.Equal(expected, validation.Documents);
        Assert.Equal(200 - expected, train.Documents);
        Assert.All(validation.Items, i => Assert.True(TokenDataset.IsValidationDocument(i.Document, 0.1)));
        Assert.All(train.Items, i => Assert.False(TokenDataset.IsValidationDocument(i.Document, 0.1)));
        Assert.Equal(2 * expected, validation.Items.Count);
    }

    [Fact]
    public void WordsThatAreNotOneTokenOrNeverOccurAreRefused()
    {
        using var dir = new TempDir();
        using var loaded = Embedded();
        var corpus = Corpus(dir);
        var e = Assert.Throws<ArgumentException>(() => ContrastSet.Build(loaded, [corpus], " an", " elephantine", 64));
        Assert.Contains("' elephantine' is", e.Message);
        Assert.Contains("single-token", e.Message);
        Assert.Throws<ArgumentException>(() => ContrastSet.Build(loaded, [corpus], " a", " a", 64));
        Assert.Throws<ArgumentException>(() => ContrastSet.Build(loaded, [corpus], " an", " a", 2));
        var never = Assert.Throws<InvalidDataException>(() => ContrastSet.Build(loaded, [corpus], " an", " dog", 64));
        Assert.Contains("' dog' never follows", never.Message);
    }

    [Fact]
    public void TheCommandWritesJsonlThatScoreReadsPerWord()
    {
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        var output = dir.File("items.jsonl");
        var summary = Cli.Cli.Run("contrasts", "--corpus", corpus, "--word", " an", "--word", " a", "--split", "all", "--out", output, "--json").Json();
        Assert.Equal(6, summary.GetProperty("items").GetInt32());
        Assert.Equal(3, summary.GetProperty("short_context").GetInt32());
        Assert.Equal(output, summary.GetProperty("out").GetString());
        var lines = File.ReadAllLines(output);
        Assert.Equal(6, lines.Length);
        Assert.Equal(["prompt", "target", "foil", "file", "document", "position", "next", "group"],
            System.Text.Json.JsonDocument.Parse(lines[0]).RootElement.EnumerateObject().Select(p => p.Name));
        var scored = Cli.Cli.Run("score", "--dataset", output, "--json").Json();
        Assert.Equal([" an", " a"], scored.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("group").GetString()));
        Assert.All(scored.GetProperty("groups").EnumerateArray(), g => Assert.Equal(3, g.GetProperty("count").GetInt32()));
    }

    [Fact]
    public void BadOptionsAreOneLineErrors()
    {
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        Cli.Cli.Run("contrasts", "--corpus", corpus, "--word", " an", "--out", dir.File("x.jsonl")).AssertFailed(2, "--word must be given exactly twice");
        Cli.Cli.Run("contrasts", "--corpus", dir.File("missing.txt"), "--word", " an", "--word", " a", "--out", dir.File("x.jsonl")).AssertFailed(2, "missing.txt does not exist");
        Cli.Cli.Run("contrasts", "--corpus", corpus, "--word", " an", "--word", " a", "--split", "test", "--out", dir.File("x.jsonl")).AssertFailed(2, "--split");
        Cli.Cli.Run("contrasts", "--corpus", corpus, "--word", " an", "--word", " a xyz", "--split", "all", "--out", dir.File("x.jsonl")).AssertFailed(1, "' a xyz' is");
        Cli.Cli.Run("contrasts", "--corpus", corpus, "--word", " an", "--word", " a", "--out", dir.File("no/such/folder/x.jsonl")).AssertFailed(1, "does not exist");
        Assert.False(File.Exists(dir.File("x.jsonl")));
    }
}

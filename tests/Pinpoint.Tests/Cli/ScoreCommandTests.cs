using Pinpoint.Tests.Evaluation;

namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint score</c> on the shared models: the JSON agrees with <c>pinpoint run</c>'s logits, tables, errors.</summary>
public class ScoreCommandTests
{
    private const string Dataset = """
        {"prompt":"Once upon a time there was","target":" a","foil":" the","group":"new"}
        {"prompt":"Lily had a red ball. She threw the ball to Tom. Then Tom kicked","target":" the","foil":" a","group":"known"}

        {"prompt":"He saw","target":" a","foil":" the","note":"extra fields are ignored"}
        """;

    private static float[] RunLogits(string model, string prompt) =>
        Cli.RunOn("run", model, "--prompt", prompt, "--logits", "--json").Json().GetProperty("logits").Floats();

    private static int TokenId(string model, string prompt, string continuation)
    {
        var prompt_ = Cli.RunOn("run", model, "--prompt", prompt, "--json").Json().GetProperty("ids").Ints();
        var full = Cli.RunOn("run", model, "--prompt", prompt + continuation, "--json").Json().GetProperty("ids").Ints();
        Assert.Equal(prompt_, full[..prompt_.Length]);
        return full[prompt_.Length];
    }

    [Theory]
    [InlineData("stories-bin")]
    [InlineData("stories-hf")]
    [InlineData("gpt2-hf")]
    [InlineData("gpt2-gguf")]
    public void JsonLogitDiffsMatchRun(string model)
    {
        var path = ScoreTests.TempFile(Dataset);
        try
        {
            var json = Cli.RunOn("score", model, "--dataset", path, "--json", "--batch-size", "2").Json();
            Assert.Equal(["items", "accuracy", "groups"], json.EnumerateObject().Select(p => p.Name));
            var items = json.GetProperty("items").EnumerateArray().ToArray();
            Assert.Equal(3, items.Length);
            Assert.Equal(["prompt", "target", "foil", "logit_diff", "correct", "target_tokens", "foil_tokens", "group"], items[0].EnumerateObject().Select(p => p.Name));
            Assert.False(items[2].TryGetProperty("group", out _));
            int correct = 0;
            foreach (var item in items)
            {
                var prompt = item.GetProperty("prompt").GetString()!;
                var logits = RunLogits(model, prompt);
                int t = TokenId(model, prompt, item.GetProperty("target").GetString()!), f = TokenId(model, prompt, item.GetProperty("foil").GetString()!);
                float diff = item.GetProperty("logit_diff").GetSingle();
                Assert.Equal(logits[t] - logits[f], diff, 1e-4f);
                Assert.Equal(diff > 0, item.GetProperty("correct").GetBoolean());
                Assert.Equal(1, item.GetProperty("target_tokens").GetInt32());
                correct += diff > 0 ? 1 : 0;
            }
            Assert.Equal(correct / 3.0, json.GetProperty("accuracy").GetDouble(), 1e-12);
            var groups = json.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("group").GetString()!).ToArray();
            Assert.Equal(["new", "known"], groups);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TableShowsEveryItemAndTheAccuracy()
    {
        var path = ScoreTests.TempFile(Dataset.Replace(",\"group\":\"new\"", "").Replace(",\"group\":\"known\"", "") + "\n{\"prompt\":\"Tom picked\",\"target\":\" an apple\",\"foil\":\" a\"}\n");
        try
        {
            var r = Cli.RunOn("score", "gpt2-gguf", "--dataset", path);
            Assert.Equal(0, r.Code);
            Assert.Equal("", r.Err);
            Assert.DoesNotContain('\u001b', r.Out);
            Assert.Contains("Then Tom kicked", r.Out);
            Assert.Contains("\" an apple\" (", r.Out);
            Assert.Contains("tokens)", r.Out);
            Assert.Matches(@"accuracy: \d+(\.\d)? % \(\d/4\)", r.Out);
            Assert.DoesNotContain("group", r.Out);

            var json = Cli.RunOn("score", "gpt2-gguf", "--dataset", path, "--json").Json();
            Assert.False(json.TryGetProperty("groups", out _));
            Assert.True(json.GetProperty("items")[3].GetProperty("target_tokens").GetInt32() > 1);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("stories-gguf")]
    [InlineData("gpt2-hf")]
    public void TopKProbeRanksAnswers(string model)
    {
        var path = ScoreTests.TempFile("""
            {"prompt":"Once upon a time there was","answers":[" a"," the"]}
            {"prompt":"He saw","answers":[" the"],"group":"g"}
            """);
        try
        {
            var json = Cli.RunOn("score", model, "--dataset", path, "--topk", "2", "--json").Json();
            Assert.Equal(["items", "top_k", "hit_rate"], json.EnumerateObject().Select(p => p.Name));
            Assert.Equal(2, json.GetProperty("top_k").GetInt32());
            int hits = 0;
            foreach (var item in json.GetProperty("items").EnumerateArray())
            {
                Assert.Equal(["prompt", "answers", "rank", "hit"], item.EnumerateObject().Select(p => p.Name).Take(4));
                var prompt = item.GetProperty("prompt").GetString()!;
                var logits = RunLogits(model, prompt);
                var order = Enumerable.Range(0, logits.Length).OrderByDescending(j => logits[j]).ThenBy(j => j).ToList();
                int rank = item.GetProperty("answers").EnumerateArray().Select(a => order.IndexOf(TokenId(model, prompt, a.GetString()!)) + 1).Min();
                Assert.Equal(rank, item.GetProperty("rank").GetInt32());
                Assert.Equal(rank <= 2, item.GetProperty("hit").GetBoolean());
                hits += rank <= 2 ? 1 : 0;
            }
            Assert.Equal(hits / 2.0, json.GetProperty("hit_rate").GetDouble());

            var table = Cli.RunOn("score", model, "--dataset", path);
            Assert.Equal(0, table.Code);
            Assert.Contains("top-5 hit rate:", table.Out);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SameFirstTokenIsPointedOut()
    {
        // gpt2-random has no " an" token: " an" and " a" both begin with " a".
        var path = ScoreTests.TempFile("{\"prompt\":\"He ate\",\"target\":\" an\",\"foil\":\" a\"}\n");
        try
        {
            var r = Cli.RunOn("score", "gpt2-hf", "--dataset", path);
            Assert.Equal(0, r.Code);
            Assert.Contains("note: for 1 item(s) the target and foil begin with the same token", r.Out);
            var item = Cli.RunOn("score", "gpt2-hf", "--dataset", path, "--json").Json().GetProperty("items")[0];
            Assert.Equal(0f, item.GetProperty("logit_diff").GetSingle());
            Assert.False(item.GetProperty("correct").GetBoolean());
            Assert.Equal(2, item.GetProperty("target_tokens").GetInt32());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MalformedLineFailsNamingFileAndLine()
    {
        var path = ScoreTests.TempFile(Dataset + "\n{\"prompt\":\"x\",\"target\":\" y\"}\n");
        try
        {
            Cli.RunOn("score", "stories-bin", "--dataset", path, "--json").AssertFailed(1, $"{path}:5: missing \"foil\"");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UsageErrors()
    {
        Cli.RunOn("score", "stories-bin").AssertFailed(2, "--dataset");
        Cli.RunOn("score", "stories-bin", "--dataset", "/nonexistent/x.jsonl").AssertFailed(1, "/nonexistent/x.jsonl");
        var path = ScoreTests.TempFile(Dataset);
        try
        {
            Cli.RunOn("score", "stories-bin", "--dataset", path, "--topk", "5").AssertFailed(2, "--topk");
            Cli.RunOn("score", "stories-bin", "--dataset", path, "--batch-size", "0").AssertFailed(2, "--batch-size");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void HelpShowsTheJsonShapes()
    {
        var r = Cli.Run("score", "--help");
        Assert.Equal(0, r.Code);
        Assert.Contains("\"logit_diff\":number", r.Out);
        Assert.Contains("\"hit_rate\":number", r.Out);
        Assert.Contains("score", Cli.Run("--help").Out);
    }
}

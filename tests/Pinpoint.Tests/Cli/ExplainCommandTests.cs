using System.Text.Json;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint explain</c> on stories260K: the JSON has the documented fields and its numbers agree with each other.</summary>
public class ExplainCommandTests
{
    private const string Prompt = "Lily had a ball. She gave the ball to";
    private const string Counterfactual = "Lily had a cat. She gave the ball to";

    [Fact]
    public void JsonFieldsAndIdentities()
    {
        var json = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " her", "--foil", " the",
            "--counterfactual", Counterfactual, "--top", "5", "--verify-k", "3", "--ig-steps", "3", "--json").Json();
        Assert.Equal(
            ["summary", "prompt", "tokens", "target", "foil", "compared", "logit_diff", "metric", "answer_position", "counterfactual", "logit_lens", "direct_attribution",
             "direct_attribution_constant", "top_neurons", "patching", "attribution_patching", "integrated_gradients", "patching_ranking", "neuron_patching", "verification", "head_mechanisms", "neuron_mechanisms",
             "weights", "weights_spearman", "block_weights", "block_weights_spearman", "weights_scored"],
            json.EnumerateObject().Select(p => p.Name));
        double diff = json.GetProperty("logit_diff").GetDouble();
        var lens = json.GetProperty("logit_lens").EnumerateArray().ToArray();
        Assert.Equal(6, lens.Length); // embed + 5 layers
        Assert.Equal(diff, lens[^1].GetProperty("logit_diff").GetDouble(), 3);
        Assert.Equal("given", json.GetProperty("counterfactual").GetProperty("origin").GetString());

        var residual = json.GetProperty("patching").GetProperty("residual_denoise").EnumerateArray().ToArray();
        Assert.Equal(1.0, residual[^1].EnumerateArray().Last().GetDouble(), 4);

        var verification = json.GetProperty("verification");
        Assert.Equal(3, verification.GetProperty("k").GetInt32());
        Assert.Equal(3, verification.GetProperty("curve").GetArrayLength());
        Assert.Equal(verification.GetProperty("top_k_fraction_removed").GetDouble(), verification.GetProperty("curve")[2].GetDouble(), 9);
        Assert.True(verification.TryGetProperty("random_k_fraction_removed", out _));
        var heads = json.GetProperty("head_mechanisms").EnumerateArray().ToArray();
        Assert.Equal(3, heads.Length);
        foreach (var head in heads)
        {
            var weights = head.GetProperty("attends_to").EnumerateArray().Select(a => a.GetProperty("weight").GetDouble()).ToArray();
            Assert.True(weights.Sum() <= 1 + 1e-5 && weights.SequenceEqual(weights.OrderByDescending(w => w)), "attention weights: a sorted part of a softmax row");
            Assert.Equal(5, head.GetProperty("promotes").GetArrayLength());
            // The OV circuit reads the token the head attends to most.
            var ov = head.GetProperty("ov_circuit");
            Assert.Equal(head.GetProperty("attends_to")[0].GetProperty("position").GetInt32(), ov.GetProperty("source_position").GetInt32());
            Assert.Equal(head.GetProperty("attends_to")[0].GetProperty("token").GetString(), ov.GetProperty("source_token").GetString());
            Assert.Equal(5, ov.GetProperty("promotes").GetArrayLength());
            Assert.InRange(ov.GetProperty("copying_score").GetDouble(), 0, 1);
        }
        Assert.All(json.GetProperty("neuron_mechanisms").EnumerateArray(), n => Assert.Equal(5, n.GetProperty("reads_from").GetArrayLength()));
        var spearman = json.GetProperty("attribution_patching").GetProperty("spearman_vs_activation").GetDouble();
        Assert.InRange(spearman, -1, 1);
        // --top 5 weight vectors, ordered by |estimate|, each measured by zeroing it.
        foreach (var key in new[] { "weights", "block_weights" })
        {
            var weights = json.GetProperty(key).EnumerateArray().ToArray();
            Assert.Equal(5, weights.Length);
            var estimates = weights.Select(w => Math.Abs(w.GetProperty("estimate").GetDouble())).ToArray();
            Assert.Equal(estimates.OrderByDescending(e => e), estimates);
            Assert.All(weights, w => Assert.Contains(w.GetProperty("kind").GetString(), new[] { "row", "column" }));
            Assert.All(weights, w => Assert.True(double.IsFinite(w.GetProperty("actual").GetDouble())));
            Assert.All(weights, w => Assert.StartsWith($"{w.GetProperty("matrix").GetString()} {w.GetProperty("kind").GetString()} {w.GetProperty("index").GetInt32()}", w.GetProperty("name").GetString()));
        }
        Assert.All(json.GetProperty("block_weights").EnumerateArray(), w => Assert.StartsWith("blocks.", w.GetProperty("matrix").GetString()));
        Assert.InRange(json.GetProperty("weights_spearman").GetDouble(), -1, 1);
        Assert.True(json.GetProperty("weights_scored").GetInt32() > 5);
        var integrated = json.GetProperty("integrated_gradients");
        Assert.Equal(3, integrated.GetProperty("steps").GetInt32());
        Assert.InRange(integrated.GetProperty("spearman_vs_activation").GetDouble(), -1, 1);
        Assert.Equal(residual.Length, integrated.GetProperty("residual").GetArrayLength());
        // Positions before the changed token are identical along the whole path, so no gradient step can move them.
        Assert.Equal(0.0, integrated.GetProperty("residual")[0][0].GetDouble(), 9);
    }

    [Fact]
    public void SummaryOpensWithTheMeasuredNumbersAndFlagsALosingTarget()
    {
        // The same prediction with target and foil swapped: the "target" loses, so no share of its difference is a percentage.
        var right = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " her", "--foil", " the",
            "--counterfactual", Counterfactual, "--verify-k", "2", "--ig-steps", "1", "--json").Json();
        var wrong = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " the", "--foil", " her",
            "--counterfactual", Counterfactual, "--verify-k", "2", "--ig-steps", "1", "--json").Json();
        double diff = right.GetProperty("logit_diff").GetDouble();
        Assert.True(diff > ExplainSummary.NearZero, $"the test needs a clear preference, got {diff}");
        Assert.Equal(-diff, wrong.GetProperty("logit_diff").GetDouble(), 4);
        string[] Sentences(JsonElement j, string key) => j.GetProperty("summary").GetProperty(key).EnumerateArray().Select(s => s.GetString()!).ToArray();

        var sentences = Sentences(right, "sentences");
        Assert.Contains(ExplainSummary.Logits(diff), sentences[0]);
        string top = right.GetProperty("patching_ranking")[0].GetProperty("component").GetString()!;
        Assert.Contains(top, sentences[1]);
        Assert.Contains("%", sentences[^1]);
        Assert.DoesNotContain(Sentences(right, "caveats"), c => c.Contains("target loses"));

        Assert.Contains(Sentences(wrong, "caveats"), c => c.Contains("target loses"));
        Assert.DoesNotContain("%", Sentences(wrong, "sentences")[^1]);
    }

    [Fact]
    public void UndefinedNumbersAreJsonNull()
    {
        var text = ReportJson.Serialize(new { Spearman = double.NaN, Values = new[] { 1.5, double.PositiveInfinity } });
        Assert.Equal("{\"spearman\":null,\"values\":[1.5,null]}", text);
    }

    [Fact]
    public void CounterfactualIsFoundWhenNotGiven()
    {
        var json = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " her", "--foil", " the", "--verify-k", "2", "--json").Json();
        var cf = json.GetProperty("counterfactual");
        Assert.StartsWith("swapped token", cf.GetProperty("origin").GetString());
        Assert.True(cf.GetProperty("logit_diff").GetDouble() < json.GetProperty("logit_diff").GetDouble());
    }

    [Fact]
    public void UnequalCounterfactualLengthIsAClearError()
    {
        var result = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " her", "--foil", " the", "--counterfactual", "A cat.", "--json");
        result.AssertFailed(1, "equal lengths");
        Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " her", "--foil", " her").AssertFailed(1, "are the same tokens; there is no difference to explain");
    }

    [Fact]
    public void MultiTokenTargetShowsItsTokenizationAndWhichTokenIsCompared()
    {
        var json = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " zzzz", "--foil", " the", "--verify-k", "1", "--json").Json();
        var target = json.GetProperty("target");
        var pieces = target.GetProperty("pieces").EnumerateArray().Select(p => p.GetString()).ToArray();
        Assert.True(pieces.Length > 1);
        Assert.Equal(pieces.Length, target.GetProperty("token_count").GetInt32());
        Assert.Equal(pieces[0], target.GetProperty("token").GetString());
        Assert.Equal(" zzzz", string.Concat(pieces));
        var text = Cli.RunOn("explain", "stories-bin", "--prompt", Prompt, "--target", " zzzz", "--foil", " the", "--verify-k", "1");
        Assert.Contains("the logit difference compares token 1;", text.Out);
        Assert.Contains("teacher-forced log p", text.Out);
    }

    /// <summary>Every IOI name in the shared concepts is several tokens for the embedded model: the whole name is scored, teacher-forced.</summary>
    [Fact]
    public void MultiTokenIoiNameIsMeasuredByTeacherForcedLogProb()
    {
        var first = JsonDocument.Parse(File.ReadAllText(SharedData.Require("concepts/ioi_prompts.json"))).RootElement[0];
        string prompt = first.GetProperty("prompt").GetString()!;
        Assert.Equal("Deanna", first.GetProperty("answer").GetString());
        var json = Cli.Run("explain", "--prompt", prompt, "--target", " Deanna", "--foil", " Eleanor", "--metric", "logprob",
            "--top", "3", "--verify-k", "2", "--ig-steps", "1", "--json").Json();
        var target = json.GetProperty("target");
        int count = target.GetProperty("token_count").GetInt32();
        Assert.True(count > 1, $"\" Deanna\" is {count} token(s)");
        double logProb = target.GetProperty("log_prob").GetDouble();
        Assert.Equal(logProb, target.GetProperty("token_log_probs").EnumerateArray().Sum(t => t.GetDouble()), 9);
        var metric = json.GetProperty("metric");
        Assert.Equal("logprob", metric.GetProperty("name").GetString());
        Assert.Equal(logProb, metric.GetProperty("clean").GetDouble(), 3);
        // The prompt up to the answer, then every target token but the last (teacher forcing).
        Assert.Equal(json.GetProperty("answer_position").GetInt32() + count, json.GetProperty("tokens").GetArrayLength());
    }

    /// <summary>Both names are several tokens: log p(target) − log p(foil), each teacher-forced, with each token's term.</summary>
    [Fact]
    public void MultiTokenTargetAndFoilAreComparedBySequenceLogProb()
    {
        var first = JsonDocument.Parse(File.ReadAllText(SharedData.Require("concepts/ioi_prompts.json"))).RootElement[0];
        var json = Cli.Run("explain", "--prompt", first.GetProperty("prompt").GetString()!, "--target", " Deanna", "--foil", " Eleanor", "--metric", "logprob-diff",
            "--top", "3", "--verify-k", "2", "--ig-steps", "1", "--json").Json();
        var (target, foil, metric) = (json.GetProperty("target"), json.GetProperty("foil"), json.GetProperty("metric"));
        Assert.True(target.GetProperty("token_count").GetInt32() > 1 && foil.GetProperty("token_count").GetInt32() > 1);
        Assert.Equal(("logprob_diff", "nats"), (metric.GetProperty("name").GetString(), metric.GetProperty("unit").GetString()));
        Assert.Equal(target.GetProperty("log_prob").GetDouble() - foil.GetProperty("log_prob").GetDouble(), metric.GetProperty("clean").GetDouble(), 3);
        var terms = metric.GetProperty("terms").EnumerateArray().ToArray();
        Assert.Equal(target.GetProperty("token_count").GetInt32() + foil.GetProperty("token_count").GetInt32(), terms.Length);
        Assert.Equal(metric.GetProperty("clean").GetDouble(), terms.Sum(t => t.GetProperty("sign").GetInt32() * t.GetProperty("clean").GetDouble()), 3);
        Assert.Equal(metric.GetProperty("counterfactual").GetDouble(), terms.Sum(t => t.GetProperty("sign").GetInt32() * t.GetProperty("counterfactual").GetDouble()), 3);
    }

    [Fact]
    public void TargetWithoutPromptIsAUsageError() =>
        Cli.RunOn("explain", "stories-bin", "--target", " the").AssertFailed(2, "--prompt");

    /// <summary>Without --model every command uses the embedded default model (models/default, copied beside the CLI).</summary>
    [Fact]
    public void EmbeddedDefaultModelIsUsedWithoutModelOption()
    {
        var info = Cli.Run("info", "--json").Json();
        Assert.Equal("llama", info.GetProperty("architecture").GetString());
        Assert.Equal(8192, info.GetProperty("vocab_size").GetInt32());
        Assert.Contains("bf16", info.GetProperty("dtypes").EnumerateArray().Select(d => d.GetString()!.ToLowerInvariant()));
    }

    [Fact]
    public void DefaultExplainRunsOnTheEmbeddedModel()
    {
        var json = Cli.Run("explain", "--json").Json();
        Assert.Equal(" the", json.GetProperty("target").GetProperty("token").GetString());
        Assert.True(json.GetProperty("logit_diff").GetDouble() > 0, "the embedded model should prefer \" the\" on the built-in example");
        Assert.True(json.GetProperty("counterfactual").GetProperty("logit_diff").GetDouble() < 0);
        Assert.Equal(5, json.GetProperty("verification").GetProperty("k").GetInt32());
    }

    [Fact]
    public void DatasetAggregatesEveryItemWithIntervals()
    {
        var dataset = Path.Combine(Path.GetTempPath(), $"explain-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(dataset, [
            $"{{\"prompt\":\"{Prompt}\",\"target\":\" her\",\"foil\":\" the\",\"counterfactual\":\"{Counterfactual}\"}}",
            "",
            "{\"prompt\":\"Tom saw a dog. He gave the dog to\",\"target\":\" his\",\"foil\":\" the\"}",
            "{\"prompt\":\"Sue had a hat. She put the hat on\",\"target\":\" her\",\"foil\":\" the\"}",
        ]);
        var json = Cli.RunOn("explain", "stories-bin", "--dataset", dataset, "--verify-k", "2", "--json").Json();
        Assert.Equal(["dataset", "metric", "unit", "items", "correct", "logit_diff", "effect", "spearman", "verification", "own_top_k", "logit_lens", "components", "neurons", "item_results"],
            json.EnumerateObject().Select(p => p.Name));
        Assert.Equal(3, json.GetProperty("items").GetInt32());
        var items = json.GetProperty("item_results").EnumerateArray().ToArray();
        Assert.Equal(3, items.Length);
        Assert.Equal("given", items[0].GetProperty("counterfactual_origin").GetString());
        Assert.StartsWith("swapped token", items[1].GetProperty("counterfactual_origin").GetString());
        Assert.EndsWith(":3", items[1].GetProperty("source").GetString());
        double meanDiff = items.Average(i => i.GetProperty("logit_diff").GetDouble());
        Assert.Equal(meanDiff, json.GetProperty("logit_diff").GetProperty("mean").GetDouble(), 6);
        Assert.True(json.GetProperty("logit_diff").GetProperty("ci95").GetDouble() > 0);
        var verification = json.GetProperty("verification");
        Assert.Equal(2, verification.GetProperty("components").GetArrayLength());
        Assert.Equal(verification.GetProperty("top_k_fraction_removed").GetDouble(), verification.GetProperty("resample").GetProperty("top_k_fraction_removed").GetDouble());
        var own = json.GetProperty("own_top_k");
        Assert.Equal(2, own.GetProperty("k").GetInt32());
        Assert.All(items, i => Assert.Equal(2, i.GetProperty("own_top_k").GetArrayLength()));
        Assert.Equal(items.Where(i => i.GetProperty("logit_diff").GetDouble() > 0).Average(i => i.GetProperty("own_resample_removed").GetDouble()),
            own.GetProperty("resample").GetProperty("mean_item_fraction").GetDouble(), 9);
        var components = json.GetProperty("components").EnumerateArray().ToArray();
        Assert.Equal(5 * 8 + 5, components.Length); // stories260K: 5 layers × 8 heads, 5 MLPs
        Assert.All(components, c => Assert.Contains(c.GetProperty("consistency").GetString(), new[] { "consistent", "item_specific", "negligible" }));
        var means = components.Select(c => c.GetProperty("effect").GetProperty("mean").GetDouble()).ToArray();
        Assert.Equal(means.OrderByDescending(m => m), means);
    }

    [Fact]
    public void DatasetLineThatIsNotJsonIsReportedWithItsLineNumber()
    {
        var dataset = Path.Combine(Path.GetTempPath(), $"explain-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(dataset, [$"{{\"prompt\":\"{Prompt}\",\"target\":\" her\",\"foil\":\" the\"}}", "{\"prompt\": oops"]);
        Cli.RunOn("explain", "stories-bin", "--dataset", dataset, "--json").AssertFailed(1, ":2:");
        Cli.RunOn("explain", "stories-bin", "--dataset", dataset, "--prompt", "x").AssertFailed(2, "--dataset");
    }

    [Fact]
    public void HtmlReportIsWrittenAndNamedInTheJson()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-html-");
        try
        {
            var path = Path.Combine(dir.FullName, "report.html");
            var json = Cli.Run("explain", "--html", path, "--json").Json();
            Assert.Equal(path, json.GetProperty("html").GetString());
            var page = ExplainHtmlReportTests.Parse(File.ReadAllText(path));
            int positions = json.GetProperty("tokens").GetArrayLength(), stages = json.GetProperty("logit_lens").GetArrayLength();
            var residual = page.Descendants("svg").Single(s => (string?)s.Attribute("data-chart") == "residual-denoise");
            Assert.Equal(stages * positions, residual.Elements("rect").Count(r => (string?)r.Attribute("class") == "cell"));
            Assert.Equal([path], Directory.GetFiles(dir.FullName)); // the temporary file was renamed, not left behind
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void DatasetHtmlReportIsWrittenAndNamedInTheJson()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-html-");
        try
        {
            var dataset = Path.Combine(dir.FullName, "items.jsonl");
            File.WriteAllLines(dataset, [
                "{\"prompt\":\"Tom had a big red ball. One day he lost\",\"target\":\" the\",\"foil\":\" a\",\"counterfactual\":\"Tom had a big red ball. One day he bought\"}",
                "{\"prompt\":\"Sue had <b>a</b> hat & a cat. She put the hat on\",\"target\":\" her\",\"foil\":\" the\"}",
            ]);
            var path = Path.Combine(dir.FullName, "dataset.html");
            var json = Cli.Run("explain", "--dataset", dataset, "--html", path, "--verify-k", "2", "--json").Json();
            Assert.Equal(path, json.GetProperty("html").GetString());
            var html = File.ReadAllText(path);
            Assert.DoesNotContain("<b>", html);
            var page = ExplainHtmlReportTests.Parse(html);
            var items = page.Descendants("table").Single(t => t.Element("caption")?.Value == "Per item").Element("tbody")!.Elements("tr").ToList();
            Assert.Equal(json.GetProperty("item_results").EnumerateArray().Select(i => i.GetProperty("prompt").GetString()), items.Select(tr => tr.Elements("td").ElementAt(1).Value));
            Assert.Equal(new[] { dataset, path }.Order(), Directory.GetFiles(dir.FullName).Order()); // no temporary file left behind
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void HtmlReportIntoAMissingFolderFailsBeforeExplaining() =>
        Cli.Run("explain", "--html", Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "report.html"), "--json")
            .AssertFailed(1, "does not exist");
}

namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint circuit</c> on the embedded model: the documented JSON, numbers that agree with each other, one-line errors.</summary>
public class CircuitCommandTests
{
    [Fact]
    public void JsonHasTheDocumentedFieldsAndTheFullGraphIsTheFullModel()
    {
        var json = Cli.Run("circuit", "--edges", "12", "--curve-points", "3", "--random", "2", "--json").Json();
        foreach (var key in new[] { "metric", "items", "edges", "nodes", "faithfulness", "random_faithfulness", "curve", "summary", "path_patching", "total_edges" })
            Assert.True(json.TryGetProperty(key, out _), $"missing \"{key}\"");
        Assert.Equal("logit_diff", json.GetProperty("metric").GetString());
        var edges = json.GetProperty("edges").EnumerateArray().ToArray();
        Assert.InRange(edges.Length, 1, 12);
        var scores = edges.Select(e => Math.Abs(e.GetProperty("score").GetDouble())).ToArray();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        // Every edge joins two nodes of the circuit, and one of them reaches the logits.
        var nodes = json.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()!).ToHashSet();
        Assert.All(edges, e => Assert.Contains(e.GetProperty("from").GetString()!, nodes));
        Assert.All(edges, e => Assert.Contains(e.GetProperty("to_nodes").EnumerateArray(), n => nodes.Contains(n.GetString()!)));
        Assert.Contains(edges, e => e.GetProperty("to").GetString() == "logits");
        // With every edge live nothing is cut: the whole graph keeps exactly the full model's difference.
        var curve = json.GetProperty("curve").EnumerateArray().ToArray();
        Assert.Equal(json.GetProperty("total_edges").GetInt32(), curve[^1].GetProperty("edges").GetInt32());
        Assert.Equal(1.0, curve[^1].GetProperty("resample").GetDouble(), 4);
        Assert.Equal(1.0, curve[^1].GetProperty("mean").GetDouble(), 4);
        Assert.Equal(1, curve[0].GetProperty("edges").GetInt32());
        foreach (var key in new[] { "mean", "resample" })
        {
            Assert.True(double.IsFinite(json.GetProperty("faithfulness").GetProperty(key).GetDouble()));
            Assert.True(double.IsFinite(json.GetProperty("random_faithfulness").GetProperty(key).GetDouble()));
        }
        Assert.InRange(json.GetProperty("path_patching").GetProperty("spearman").GetDouble(), -1, 1);
        var sentences = json.GetProperty("summary").GetProperty("sentences").EnumerateArray().Select(s => s.GetString()!).ToArray();
        Assert.StartsWith($"A circuit of {edges.Length} edges", sentences[0]);
        Assert.Contains(nodes, n => n.StartsWith('L') && json.GetProperty("nodes").EnumerateArray().Any(x => x.GetProperty("name").GetString() == n && x.TryGetProperty("head", out _)));
    }

    [Fact]
    public void MultiTokenAnswersFindACircuitBySequenceLogProb()
    {
        var json = Cli.Run("circuit", "--prompt", "Tom had a big red ball. One day he lost", "--target", " the ball", "--foil", " a dog",
            "--counterfactual", "Tom had a big red ball. One day he bought", "--metric", "logprob-diff", "--edges", "10", "--curve-points", "2", "--random", "1", "--json").Json();
        Assert.Equal(("logprob_diff", "nats"), (json.GetProperty("metric").GetString(), json.GetProperty("unit").GetString()));
        var curve = json.GetProperty("curve").EnumerateArray().ToArray();
        Assert.Equal(1, json.GetProperty("counted_items").GetInt32());
        Assert.Equal(1.0, curve[^1].GetProperty("resample").GetDouble(), 4);
        Assert.Contains("of the logprob_diff", json.GetProperty("summary").GetProperty("sentences")[0].GetString());
    }

    [Fact]
    public void HtmlReportDrawsTheCircuit()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pinpoint-circuit-{Guid.NewGuid():N}.html");
        try
        {
            var json = Cli.Run("circuit", "--edges", "8", "--curve-points", "2", "--random", "1", "--html", path, "--json").Json();
            Assert.Equal(path, json.GetProperty("html").GetString());
            var html = File.ReadAllText(path);
            Assert.Contains("data-chart=\"circuit\"", html);
            Assert.Contains("data-chart=\"faithfulness-curve\"", html);
            Assert.Contains("href=\"#node-", html);
            Assert.DoesNotContain("<script", html);
            System.Xml.Linq.XDocument.Parse(html.Replace("<!DOCTYPE html>", ""));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FaithfulnessTargetOutsideTheRangeIsAnError() =>
        Cli.Run("circuit", "--target-faithfulness", "1.5").AssertFailed(1, "--target-faithfulness");

    [Fact]
    public void CheckingAnEdgeTheModelLacksNamesIt() =>
        Cli.Run("circuit", "--edges", "5", "--check-edges", "L9H0->logits").AssertFailed(1, "L9H0->logits");

    [Fact]
    public void MissingDashboardFolderIsAnError() =>
        Cli.Run("circuit", "--edges", "5", "--dashboards", "/nonexistent/dashboards").AssertFailed(1, "--dashboards");

    [Fact]
    public void EdgesAndTargetTogetherIsAUsageError() =>
        Cli.Run("circuit", "--edges", "5", "--target-faithfulness", "0.5").AssertFailed(2, "--edges");
}

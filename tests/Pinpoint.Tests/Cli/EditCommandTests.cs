namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint edit</c> on the embedded default model: the JSON of the issue and the errors.</summary>
public class EditCommandTests
{
    private static string Write(string lines)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pinpoint-edits-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, lines);
        return path;
    }

    private const string Item = "{\"subject\":\"Lily\",\"prompt\":\"{} had a pet\",\"target_new\":\" frog\",\"paraphrases\":[\"{} has a pet\"],\"neighbors\":[\"Tom had a pet\"]}";

    [Fact]
    public void EditJsonHasTheCounterFactFieldsAndTheHtmlReportTheItems()
    {
        var path = Write(Item + "\n");
        var html = Path.Combine(Path.GetTempPath(), $"pinpoint-edit-{Guid.NewGuid():N}.html");
        try
        {
            var r = Cli.Run("edit", "--dataset", path, "--layer", "2", "--html", html, "--json").Json();
            Assert.Equal(["method", "layer", "layers", "items", "efficacy_score", "efficacy_magnitude", "paraphrase_score", "neighborhood_score", "score", "fluency_before", "fluency_after",
                "perplexity_before", "perplexity_after", "seconds_per_edit", "covariance", "item_results", "html"], r.EnumerateObject().Select(p => p.Name));
            Assert.Equal("rome", r.GetProperty("method").GetString());
            Assert.Equal(1, r.GetProperty("items").GetInt32());
            Assert.Equal("identity", r.GetProperty("covariance").GetString());
            var item = r.GetProperty("item_results")[0];
            Assert.Equal(["subject", "prompt", "target_true", "target_new", "efficacy", "magnitude", "paraphrase", "neighborhood", "true_before", "new_before", "true_after", "new_after", "seconds",
                "optimised_probability", "delta_over_value", "clamped", "optimisation_steps", "perplexity_after"],
                item.EnumerateObject().Select(p => p.Name));
            Assert.True(item.GetProperty("efficacy").GetBoolean());
            Assert.True(item.GetProperty("new_after").GetDouble() > item.GetProperty("new_before").GetDouble());
            Assert.Equal(item.GetProperty("new_after").GetDouble() - item.GetProperty("true_after").GetDouble(), item.GetProperty("magnitude").GetDouble(), 9);
            var page = System.Xml.Linq.XDocument.Parse(File.ReadAllText(html).Replace("<!DOCTYPE html>", ""));
            var cells = page.Descendants("td").Select(td => td.Value).ToList();
            Assert.Contains("Lily had a pet", cells);
            Assert.Contains("·frog", cells);
        }
        finally
        {
            File.Delete(path);
            File.Delete(html);
        }
    }

    /// <summary>At the last layer nothing after the subject reads the edited MLP output, so the command says so.</summary>
    [Fact]
    public void AnEditAtTheLastLayerIsNoted()
    {
        var path = Write(Item + "\n");
        try
        {
            var last = Cli.Run("edit", "--dataset", path, "--layer", "3", "--steps", "1", "--json");
            Assert.Equal(0, last.Code);
            Assert.Contains("pinpoint: note: layer 3 is the model's last", last.Err);
            Assert.DoesNotContain("model's last", Cli.Run("edit", "--dataset", path, "--layer", "2", "--steps", "1", "--json").Err);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("{\"subject\":\"Lily\",\"prompt\":\"Lily had a pet\",\"target_new\":\" frog\"}", 1, ":1: \"prompt\" has no {} for the subject")]
    [InlineData("{\"subject\":\"Lily\",\"prompt\":\"{} had a pet\",\"target_new\":\" \"}", 1, ":1: \"target_new\" must be a non-empty string")]
    [InlineData("\n{\"subject\":\"Lily\",\"prompt\":\"{} had a pet\",\"target_new\":\" frog\",\"paraphrases\":[\"It had a pet\"]}", 1, ":2: paraphrase \"It had a pet\" has no {}")]
    [InlineData("{\"subject\":\"Lily\",\"prompt\":\"{} had a pet\"", 1, ":1: not valid JSON")]
    public void BadItemsNameTheLine(string lines, int code, string mention)
    {
        var path = Write(lines);
        try
        {
            Cli.Run("edit", "--dataset", path).AssertFailed(code, mention);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BadOptionsAreRefused()
    {
        var path = Write(Item + "\n");
        var dir = Directory.CreateTempSubdirectory("pinpoint-edit-out-").FullName;
        try
        {
            Cli.Run("edit", "--dataset", path, "--layer", "9").AssertFailed(1, "--layer 9 is out of range: the model has layers 0..3");
            Cli.Run("edit", "--dataset", path, "--method", "mend").AssertFailed(2, "not available (available: rome, memit)");
            Cli.Run("edit", "--dataset", path, "--method", "memit", "--sequential").AssertFailed(2, "memit edits every item at once");
            Cli.Run("edit", "--dataset", path, "--layers", "1,2").AssertFailed(2, "are for --method memit");
            Cli.Run("edit", "--dataset", path, "--method", "memit", "--layers", "1,9").AssertFailed(1, "--layers 9 is out of range");
            Cli.Run("edit", "--dataset", path, "--method", "memit", "--update-weight", "0").AssertFailed(2, "--update-weight must be positive");
            Cli.Run("edit", "--dataset", path, "--clamp-norm", "0").AssertFailed(2, "--clamp-norm must be positive");
            Cli.Run("edit", "--dataset", path, "--prompt-weight", "1.5").AssertFailed(2, "--prompt-weight must be in (0, 1]");
            Cli.Run("edit", "--dataset", path, "--steps", "0").AssertFailed(2, "--steps: 0 is below the minimum of 1");
            Cli.Run("edit", "--dataset", path, "--corpus", path, "--covariance-window", "999").AssertFailed(2, "--covariance-window: 999 is above the maximum of 256");
            Cli.Run("edit", "--dataset", path, "--covariance-window", "-3").AssertFailed(2, "--covariance-window: -3 is below the minimum of 1");
            Cli.Run("edit", "--dataset", path, "--covariance-window", "32").AssertFailed(2, "need --corpus");
            Cli.Run("edit", "--dataset", path, "--out", dir).AssertFailed(2, "add --sequential");
            File.WriteAllText(Path.Combine(dir, "x"), "");
            Cli.Run("edit", "--dataset", path, "--sequential", "--out", dir).AssertFailed(1, "is not empty");
            var source = Path.Combine(SharedData.RepoRoot, "models", "default");
            Cli.Run("edit", "--model", source, "--dataset", path, "--sequential", "--out", source, "--force").AssertFailed(1, "never overwrites");
        }
        finally
        {
            File.Delete(path);
            Directory.Delete(dir, recursive: true);
        }
    }
}

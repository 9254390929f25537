namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint trace</c> on the embedded default model.</summary>
public class TraceCommandTests
{
    private const string Prompt = "Lily had a pet dog. Every day, Lily walked her";

    [Fact]
    public void TraceJsonHasLayerByPositionGridsAndTheLastResidualRestoresTheCleanRun()
    {
        var r = Cli.Run("trace", "--prompt", Prompt, "--subject", "Lily", "--samples", "3", "--json").Json();
        var tokens = r.GetProperty("tokens").GetArrayLength();
        Assert.Equal(9, r.GetProperty("subject_start").GetInt32());
        Assert.Equal(10, r.GetProperty("subject_end").GetInt32());
        foreach (var name in new[] { "residual", "mlp", "attention" })
        {
            var grid = r.GetProperty(name).EnumerateArray().ToList();
            Assert.Equal(4, grid.Count);
            Assert.All(grid, row => Assert.Equal(tokens, row.GetArrayLength()));
            // Nothing before the subject depends on it.
            Assert.All(grid, row => Assert.Equal(0, row[0].GetDouble(), 9));
        }
        double restoredAll = r.GetProperty("residual")[3][tokens - 1].GetDouble();
        Assert.Equal(r.GetProperty("clean_probability").GetDouble() - r.GetProperty("corrupted_probability").GetDouble(), restoredAll, 6);
    }

    [Fact]
    public void SubjectNotInThePromptNamesTheTokens()
    {
        var r = Cli.Run("trace", "--prompt", Prompt, "--subject", "Tom");
        r.AssertFailed(1, "subject 'Tom' is not in the prompt's tokens");
        Assert.Contains("\" Lily\"", r.Err);
    }
}

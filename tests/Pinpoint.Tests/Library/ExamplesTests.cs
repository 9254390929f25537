namespace Pinpoint.Tests.Library;

/// <summary>Every file-based app in examples/ runs with <c>dotnet run</c> and prints what it promises.</summary>
[Collection(DotnetCommand.Name)]
public class ExamplesTests
{
    /// <summary>Each example with quick arguments and a line its output must contain.</summary>
    private static readonly Dictionary<string, (string[] Args, string Expected)> Examples = new()
    {
        ["attention-pattern.cs"] = ([], "blocks.0.attn.hook_pattern, head 1"),
        ["patch-head.cs"] = ([], "layer 3:"),
        ["gradient.cs"] = ([], "gradient × activation at blocks.1.hook_resid_post"),
        ["train-tiny.cs"] = (["20"], "step  20: train loss"),
        ["explain.cs"] = ([], "of the difference restored"),
    };

    [Fact]
    public void EveryExampleRuns()
    {
        var folder = Path.Combine(SharedData.RepoRoot, "examples");
        Assert.Equal(Examples.Keys.Order(), Directory.GetFiles(folder, "*.cs").Select(Path.GetFileName).Order());
        foreach (var (file, (args, expected)) in Examples)
        {
            var (code, stdout, stderr) = DotnetCommand.Run("dotnet", SharedData.RepoRoot, ["run", "-c", "Release", Path.Combine("examples", file), .. args]);
            Assert.True(code == 0, $"{file} exited with {code}:\n{stdout}\n{stderr}");
            Assert.Contains(expected, stdout);
        }
    }
}

namespace Pinpoint.Tests.Cli;

/// <summary>--steer on run, generate, score and explain, on the embedded default model.</summary>
public class SteerOptionTests
{
    private const string Prompt = "Once upon a time, there was a little";
    private const string DogNotGirl = "hook=blocks.2.hook_resid_pre,plus=\" dog\",minus=\" girl\",coef=4";

    private static double Prob(System.Text.Json.JsonElement run, string token) =>
        run.GetProperty("top").EnumerateArray().Where(p => p.GetProperty("token").GetString() == token).Select(p => p.GetProperty("prob").GetDouble()).DefaultIfEmpty(0).First();

    [Fact]
    public void RunWithSteeringMovesTowardsThePlusPrompt()
    {
        var plain = Cli.Run("run", "--prompt", Prompt, "--top", "20", "--json").Json();
        var steered = Cli.Run("run", "--prompt", Prompt, "--top", "20", "--json", "--steer", DogNotGirl).Json();
        Assert.True(Prob(steered, " dog") > Prob(plain, " dog") + 0.03);
        Assert.True(Prob(steered, " girl") < Prob(plain, " girl") - 0.3);
        // Two specs add up: the second one undoes the first.
        var undone = Cli.Run("run", "--prompt", Prompt, "--top", "20", "--json", "--steer", DogNotGirl, "--steer", DogNotGirl.Replace("coef=4", "coef=-4")).Json();
        Assert.Equal(Prob(plain, " girl"), Prob(undone, " girl"), 4);
    }

    [Fact]
    public void GenerateAndScoreTakeSteering()
    {
        var plain = Cli.Run("generate", "--prompt", Prompt, "-n", "12", "--json").Json().GetProperty("text").GetString();
        var steered = Cli.Run("generate", "--prompt", Prompt, "-n", "12", "--json", "--steer", DogNotGirl).Json().GetProperty("text").GetString();
        Assert.NotEqual(plain, steered);
        Assert.Contains("dog", steered);
        var dataset = Path.Combine(SharedData.RepoRoot, "evals", "articles.jsonl");
        var a = Cli.Run("score", "--dataset", dataset, "--json").Json().GetProperty("accuracy").GetDouble();
        var b = Cli.Run("score", "--dataset", dataset, "--json", "--steer", "hook=blocks.1.hook_resid_pre,plus=\" an\",minus=\" a\",coef=8").Json().GetProperty("accuracy").GetDouble();
        Assert.NotEqual(a, b);
    }

    [Theory]
    [InlineData("hook=blocks.2.hook_resid_pre,plus=\" dog\"", "ActAdd needs both")]
    [InlineData("hook=blocks.7.hook_resid_pre,plus=a,minus=b", "not a per-token hook")]
    [InlineData("hook=blocks.0.hook_resid_pre,file=missing.safetensors,tensor=w", "missing.safetensors")]
    [InlineData("ablate,hook=blocks.0.mlp.hook_post,plus=a,minus=b", "residual-stream direction of 256 values")]
    public void BadSpecsAreOneLineErrors(string spec, string mention)
    {
        var r = Cli.Run("run", "--prompt", Prompt, "--steer", spec);
        r.AssertFailed(1, mention);
        Assert.Contains("steering spec", r.Err);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Cli;

/// <summary><c>pinpoint steer</c> on the embedded default model.</summary>
public class SteerCommandTests
{
    private const string Prompt = "Once upon a time, there was a little";
    private const string Dog = "hook=blocks.2.hook_resid_pre,plus=\" dog\",minus=\" girl\",pos=1:";

    [Fact]
    public void SweepReportsEffectAndCostPerCoefficient()
    {
        var html = Path.Combine(Path.GetTempPath(), $"pinpoint-steer-{Guid.NewGuid():N}.html");
        try
        {
            var r = Cli.Run("steer", "--vector", Dog, "--prompt", Prompt, "--coefficients", "-0.5,0,0.25,0.5", "-n", "8", "--json", "--html", html).Json();
            Assert.Equal(["vector", "hook", "vector_norm", "positions", "prompt", "concept_tokens", "base_perplexity", "seed", "points", "html"], r.EnumerateObject().Select(p => p.Name));
            Assert.Equal([" dog"], r.GetProperty("concept_tokens").EnumerateArray().Select(t => t.GetString()));
            var points = r.GetProperty("points").EnumerateArray().ToList();
            Assert.Equal([-0.5, 0, 0.25, 0.5], points.Select(p => p.GetProperty("coefficient").GetDouble()));
            var zero = points[1];
            Assert.Equal(0, zero.GetProperty("concept_logprob_shift").GetDouble(), 6);
            Assert.Equal(0, zero.GetProperty("neutral_kl").GetDouble(), 6);
            Assert.Equal(r.GetProperty("base_perplexity").GetDouble(), zero.GetProperty("perplexity").GetDouble(), 6);
            var shifts = points.Select(p => p.GetProperty("concept_logprob_shift").GetDouble()).ToList();
            Assert.True(shifts[0] < 0 && shifts[2] > 0 && shifts[3] > shifts[2], string.Join(", ", shifts));
            Assert.True(points[3].GetProperty("neutral_kl").GetDouble() > points[2].GetProperty("neutral_kl").GetDouble());
            Assert.All(points, p => Assert.Equal(8, p.GetProperty("ids").GetArrayLength()));
            var page = File.ReadAllText(html);
            Assert.Contains("data-chart=\"effect\"", page);
            Assert.Contains("data-chart=\"cost\"", page);
            Assert.DoesNotContain("<script", page);
            // Seeded: the same call generates the same texts.
            var again = Cli.Run("steer", "--vector", Dog, "--prompt", Prompt, "--coefficients", "-0.5,0,0.25,0.5", "-n", "8", "--json").Json();
            Assert.Equal(points.Select(p => p.GetProperty("text").GetString()), again.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("text").GetString()));
        }
        finally
        {
            File.Delete(html);
        }
    }

    [Fact]
    public void AblateSpecIsBakedIntoACheckpointThatComputesWhatTheHooksDo()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-bake-").FullName;
        try
        {
            var spec = "ablate,hook=blocks.1.hook_resid_pre,plus=\" dog\",minus=\" girl\"";
            var r = Cli.Run("steer", "--vector", spec, "--out", dir, "--prompt", Prompt, "--json").Json();
            Assert.True(r.GetProperty("max_logit_difference").GetDouble() < 1e-3);
            var baked = Cli.Run("run", "--model", dir, "--prompt", Prompt, "--logits", "--json").Json().GetProperty("logits").Floats();
            var hooked = Cli.Run("run", "--prompt", Prompt, "--logits", "--json", "--steer", spec).Json().GetProperty("logits").Floats();
            var plain = Cli.Run("run", "--prompt", Prompt, "--logits", "--json").Json().GetProperty("logits").Floats();
            Assert.True(baked.Zip(hooked).Max(p => Math.Abs(p.First - p.Second)) < 2e-3f);
            Assert.True(baked.Zip(plain).Max(p => Math.Abs(p.First - p.Second)) > 0.05f);
            // The folder is not empty any more: a second write is refused.
            Cli.Run("steer", "--vector", spec, "--out", dir).AssertFailed(1, "is not empty");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MisuseIsReported()
    {
        Cli.Run("steer", "--vector", Dog).AssertFailed(2, "--prompt is required");
        Cli.Run("steer", "--vector", Dog, "--prompt", Prompt, "--out", "x").AssertFailed(2, "needs an ablate spec");
        Cli.Run("steer", "--vector", "ablate,hook=blocks.1.hook_resid_pre,plus=a,minus=b").AssertFailed(2, "give --out DIR");
        Cli.Run("steer", "--vector", Dog, "--prompt", Prompt, "--coefficients", "1,x").AssertFailed(2, "'x' is not a number");
        Cli.Run("steer", "--vector", "hook=blocks.1.hook_resid_pre,plus=a", "--prompt", Prompt).AssertFailed(1, "ActAdd needs both");
    }
}

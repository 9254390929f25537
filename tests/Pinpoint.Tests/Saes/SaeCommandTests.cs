using Pinpoint.Tests.Cli;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Saes;

public class SaeCommandTests
{
    private static string Corpus(TempDir dir)
    {
        var path = dir.File("corpus.txt");
        File.WriteAllText(path, string.Join("\n<|endoftext|>\n", Enumerable.Range(0, 40).Select(i => $"Once upon a time there was a cat number {i}. It liked fish and milk, and it slept in the sun all day.")));
        return path;
    }

    [Fact]
    public void TrainsTwoHooksFromOneHarvestThenEvaluates()
    {
        var model = SharedData.Require("models/gpt2-random");
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        var outDir = dir.File("run");
        var train = Cli.Cli.Run("sae", "train", "--model", model, "--hook", "blocks.1.hook_resid_post,blocks.0.hook_mlp_out", "--corpus", corpus,
            "--out", outDir, "--steps", "3", "--batch-size", "64", "--d-sae", "48", "--k", "4", "--dtype", "bf16", "--json").Json();
        Assert.Equal(2, train.GetProperty("saes").GetArrayLength());
        Assert.Equal(3, train.GetProperty("saes")[0].GetProperty("step").GetInt32());
        var saeDir = Path.Combine(outDir, "blocks.1.hook_resid_post");
        Assert.True(File.Exists(Path.Combine(saeDir, "sparsity.safetensors")));
        Assert.Contains("\"hook_layer\": 1", File.ReadAllText(Path.Combine(saeDir, "cfg.json")));

        var eval = Cli.Cli.Run("sae", "eval", "--model", model, "--sae", saeDir, "--text", corpus, "--context", "32", "--json").Json();
        foreach (var field in new[] { "sae", "hook", "tokens", "l0", "explained_variance", "mse", "cossim", "l2_ratio", "ce_loss_clean", "ce_loss_sae",
                     "ce_loss_zero", "ce_loss_score", "kl_div_score", "dead_fraction", "dense_fraction_1pct", "dense_fraction_10pct" })
            Assert.True(eval.TryGetProperty(field, out _), $"sae eval --json lacks '{field}'");
        Assert.InRange(eval.GetProperty("l0").GetDouble(), 0, 4);

        var again = Cli.Cli.Run("sae", "train", "--model", model, "--hook", "blocks.1.hook_resid_post", "--corpus", corpus, "--out", outDir, "--steps", "3");
        again.AssertFailed(1, "already holds checkpoints");

        // Resuming a finished run trains nothing and reports the metrics logged at its last step, not NaN.
        var finished = Cli.Cli.Run("sae", "train", "--model", model, "--hook", "blocks.1.hook_resid_post", "--corpus", corpus, "--out", outDir,
            "--steps", "3", "--batch-size", "64", "--d-sae", "48", "--k", "4", "--resume", "--json").Json();
        var before = train.GetProperty("saes")[0];
        var after = finished.GetProperty("saes")[0];
        Assert.Equal(3, after.GetProperty("step").GetInt32());
        foreach (var field in new[] { "mse", "l0", "explained_variance", "dead_fraction" })
            Assert.Equal(before.GetProperty(field).GetDouble(), after.GetProperty(field).GetDouble(), 12);
    }

    [Fact]
    public void BadInputIsOneLineNamingTheProblem()
    {
        var model = SharedData.Require("models/gpt2-random");
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        Cli.Cli.Run("sae", "train", "--model", model, "--hook", "blocks.9.hook_resid_post", "--corpus", corpus, "--out", dir.File("x"))
            .AssertFailed(1, "no hook 'blocks.9.hook_resid_post'");
        Cli.Cli.Run("sae", "train", "--model", model, "--hook", "blocks.0.hook_resid_post", "--corpus", corpus, "--out", dir.File("x"), "--architecture", "gated")
            .AssertFailed(1, "unknown architecture 'gated'");
        Cli.Cli.Run("sae", "eval", "--model", model, "--sae", dir.File("nothing"), "--text", corpus).AssertFailed(1, "SAE folder not found");

        var sae = SaeFormatTests.RandomSae(Pinpoint.Interpretability.Saes.SaeArchitecture.TopK, dIn: 64, dSae: 8);
        Pinpoint.Interpretability.Saes.SaeLensFormat.Write(dir.File("narrow"), sae);
        Cli.Cli.Run("sae", "eval", "--model", model, "--sae", dir.File("narrow"), "--text", corpus)
            .AssertFailed(1, "field 'd_in' is 64, but hook 'blocks.1.hook_resid_post' of this model is 96 wide");
    }
}

public class FeatureDatasetCommandTests
{
    /// <summary>
    /// The dataset's removal figures are the items' own shares weighted by their clean differences, over the items the
    /// model gets right; the item counts at half are plain fractions of those items.
    /// </summary>
    [Fact]
    public void DatasetFiguresAreDifferenceWeightedOverTheRightItems()
    {
        var saes = string.Join(",", new[] { "blocks.1.hook_resid_post", "blocks.3.hook_resid_post" }
            .Select(h => Path.Combine(SharedData.RepoRoot, "models", "default", "saes", h)));
        var json = Cli.Cli.Run("explain", "--dataset", Path.Combine(SharedData.RepoRoot, "evals", "articles.jsonl"), "--limit", "3",
            "--sae", saes, "--verify-k", "2", "--json").Json();
        var items = json.GetProperty("per_item").EnumerateArray().ToList();
        Assert.Equal(3, items.Count);
        var right = items.Where(i => i.GetProperty("logit_diff").GetDouble() > 0).ToList();
        Assert.Equal(right.Count, json.GetProperty("right").GetInt32());
        Assert.NotEmpty(right);
        double total = right.Sum(i => i.GetProperty("logit_diff").GetDouble());
        foreach (var field in new[] { "mean_removed", "mean_random_removed", "resample_removed", "resample_random_removed" })
        {
            double weighted = right.Sum(i => i.GetProperty(field).GetDouble() * i.GetProperty("logit_diff").GetDouble()) / total;
            Assert.Equal(weighted, json.GetProperty(field).GetDouble(), 9);
        }
        double atHalf = right.Count(i => i.GetProperty("resample_removed").GetDouble() >= 0.5) / (double)right.Count;
        Assert.Equal(atHalf, json.GetProperty("items_resample_half_removed").GetDouble(), 12);
    }
}

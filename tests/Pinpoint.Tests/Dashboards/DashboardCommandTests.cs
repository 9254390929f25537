using System.Xml.Linq;
using Pinpoint.Cli;
using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Reports;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Dashboards;

/// <summary>The dashboard and search commands on the embedded model and a small corpus.</summary>
public sealed class DashboardCommandTests
{
    private static string Corpus(TempDir dir)
    {
        var path = dir.File("corpus.txt");
        File.WriteAllText(path, string.Join("\n<|endoftext|>\n", Enumerable.Range(0, 12).Select(i => $"Once upon a time there was a cat number {i}. It liked fish and milk.")));
        return path;
    }

    [Fact]
    public void NeuronsWritesAStoreAndPagesThatExplainFinds()
    {
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        var outDir = dir.File("dash");
        var hook = "blocks.3.mlp.hook_post";
        var summary = Cli.Cli.Run("neurons", "--hooks", hook, "--corpus", corpus, "--top", "5", "--context", "32", "--out", outDir, "--json").Json();
        var stored = summary.GetProperty("stores")[0];
        Assert.Equal(hook, stored.GetProperty("hook").GetString());
        int neurons;
        using (var embedded = Pinpoint.Models.Loading.ModelLoader.Load(ModelOptions.DefaultModelPath)) neurons = embedded.Model.Config.DMlp;
        Assert.Equal(neurons, stored.GetProperty("units").GetInt32());
        long tokens = summary.GetProperty("tokens").GetInt64();
        Assert.True(tokens > 100, $"{tokens} tokens");

        var store = DashboardFiles.Read(stored.GetProperty("file").GetString()!);
        Assert.Equal(tokens, store.Tokens);
        Assert.All(store.Units, u => Assert.InRange(u.Top.Count, 1, 5));
        Assert.All(store.Units, u => Assert.Equal(10, u.Promotes!.Count));
        // Each page is well-formed XML (the reports' rule) and the index links every unit.
        var index = File.ReadAllText(stored.GetProperty("index").GetString()!);
        XDocument.Parse(index);
        Assert.Contains(DashboardHtmlReport.UnitPage(store, neurons - 1), index);
        XDocument.Parse(File.ReadAllText(Path.Combine(outDir, DashboardHtmlReport.UnitPage(store, 7))));
    }

    /// <summary>--tokens-per-file takes the start of every file (windows numbered across them); --compact writes HOOK.json.br, which the reader opens.</summary>
    [Fact]
    public void TokensPerFileSamplesEveryFileAndCompactWritesABrotliStore()
    {
        using var dir = new TempDir();
        var first = Corpus(dir);
        var second = dir.File("second.txt");
        File.WriteAllText(second, string.Join("\n", Enumerable.Range(0, 40).Select(i => $"The king said unto his servants, go forth to city {i}.")));
        var hook = "blocks.0.mlp.hook_post";
        var summary = Cli.Cli.Run("neurons", "--hooks", hook, "--corpus", $"{first},{second}", "--tokens-per-file", "64", "--context", "32",
            "--top", "3", "--samples", "0", "--out", dir.File("dash"), "--no-html", "--compact", "--json").Json();
        var file = summary.GetProperty("stores")[0].GetProperty("file").GetString()!;
        Assert.EndsWith(hook + ".json.br", file);
        var store = DashboardFiles.Read(file);
        // Two windows of 32 tokens from each file, numbered 0..3.
        Assert.Equal(128, store.Tokens);
        Assert.Equal(4, store.Windows);
        Assert.Equal(new long[] { 0, 1, 2, 3 }, store.Units.SelectMany(u => u.Top).Select(c => c.Source).Distinct().Order());
        Assert.Contains(store.TokenTexts.Values, t => t.Contains("king"));
        Assert.Contains(store.TokenTexts.Values, t => t.Contains("cat"));
        Assert.All(store.Units, u => Assert.All(u.Intervals, i => Assert.Empty(i.Contexts)));
    }

    [Fact]
    public void SaeDashboardsAndSearchReadTheShippedSae()
    {
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        var sae = Path.Combine(ModelOptions.DefaultModelPath, "saes", "blocks.1.hook_resid_post");
        var summary = Cli.Cli.Run("sae", "dashboards", "--sae", sae, "--corpus", corpus, "--context", "32", "--out", dir.File("f"), "--no-html", "--json").Json();
        var stored = summary.GetProperty("stores")[0];
        Assert.Equal("feature", stored.GetProperty("kind").GetString());
        var store = DashboardFiles.Read(stored.GetProperty("file").GetString()!);
        Assert.Equal(1024, store.Units.Count);
        // A top-k SAE fires at most k features per token, so densities sum to at most k.
        Assert.InRange(store.Units.Sum(u => u.Density), 1, 64);

        var search = Cli.Cli.Run("sae", "search", "--sae", sae, "--text", "Once upon a time there was a cat", "--top", "3", "--json").Json();
        var hits = search.GetProperty("hooks")[0];
        Assert.Equal(3, hits.GetProperty("top").GetArrayLength());
        Assert.Equal(search.GetProperty("tokens").GetArrayLength(), hits.GetProperty("per_token").GetArrayLength());
    }

    [Fact]
    public void NeuronSearchFindsThePlantedNeuronOnItsToken()
    {
        using var planted = new PlantedNeuronModel();
        var token = planted.Model.Tokenizer.TokenText(PlantedNeuronModel.Token);
        var text = "a b c" + token + " d";
        var ids = planted.Model.Encode(text);
        int position = Array.IndexOf(ids, PlantedNeuronModel.Token);
        Assert.True(position >= 0, "the planted token is in the text");
        var result = UnitSearch.Run(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, "blocks.0.mlp.hook_post")], text, top: 1);
        var best = result.Hooks[0].Top[0];
        Assert.Equal((PlantedNeuronModel.Neuron, position), (best.Unit, best.Position));
        var elsewhere = UnitSearch.Run(planted.Model, [DashboardUnits.Neurons(planted.Model.Model, "blocks.0.mlp.hook_post")], text, top: 16, position: 0);
        Assert.DoesNotContain(elsewhere.Hooks[0].Top, h => h.Unit == PlantedNeuronModel.Neuron && h.Activation > 0);
    }

    [Fact]
    public void BadInputIsOneLineNamingTheProblem()
    {
        using var dir = new TempDir();
        var corpus = Corpus(dir);
        Cli.Cli.Run("neurons", "--hooks", "blocks.0.hook_resid_post", "--corpus", corpus, "--out", dir.File("x"))
            .AssertFailed(1, "'blocks.0.hook_resid_post' is not an MLP neuron hook");
        Cli.Cli.Run("neurons", "--hooks", "blocks.9.mlp.hook_post", "--corpus", corpus, "--out", dir.File("x"))
            .AssertFailed(1, "hook pattern 'blocks.9.mlp.hook_post' matches no per-token hook");
        Cli.Cli.Run("neurons", "--corpus", dir.File("missing.txt"), "--out", dir.File("x")).AssertFailed(1, "missing.txt");
        File.WriteAllText(dir.File("empty.txt"), "");
        Cli.Cli.Run("neurons", "--corpus", dir.File("empty.txt"), "--out", dir.File("x")).AssertFailed(1, "empty.txt");
        Cli.Cli.Run("neurons", "--corpus", corpus).AssertFailed(2, "--out");
        Cli.Cli.Run("neurons", "search", "--text", "a cat", "--token", "99").AssertFailed(1, "token position 99");
        Cli.Cli.Run("sae", "search", "--sae", dir.File("nothing"), "--text", "a cat").AssertFailed(1, "SAE folder not found");
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Lens;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;
using CliRunner = Pinpoint.Tests.Cli.Cli;

namespace Pinpoint.Tests.Lens;

public sealed class TunedLensTests
{
    private const int DModel = 16, Rows = 256;

    /// <summary>A random GPT-2 readout (final LayerNorm + tied unembedding of 64 tokens) with logits peaked enough that a wrong map costs KL.</summary>
    private static HookedTransformer Readout()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = DModel, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = DModel / 2, DMlp = 32, VocabSize = 64, ContextLength = 16,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 3);
        var unembed = w.Unembed.Weight.Span;
        for (int i = 0; i < unembed.Length; i++) unembed[i] *= 40f;
        return new HookedTransformer(config, w);
    }

    /// <summary>Rows h and the final residuals M·h + c of a planted invertible map (M = 1.5·I plus a random part of norm well below 1.5).</summary>
    private static (Tensor Residuals, Tensor Final) Planted(Random rng, float[] map, float[] offset)
    {
        var h = new float[Rows * DModel];
        for (int i = 0; i < h.Length; i++) h[i] = (float)(rng.NextDouble() * 2 - 1);
        var r = new float[Rows * DModel];
        for (int n = 0; n < Rows; n++)
            for (int o = 0; o < DModel; o++)
            {
                float sum = offset[o];
                for (int k = 0; k < DModel; k++) sum += map[o * DModel + k] * h[n * DModel + k];
                r[n * DModel + o] = sum;
            }
        return (Tensor.FromArray(h, Rows, DModel), Tensor.FromArray(r, Rows, DModel));
    }

    [Fact]
    public void TheTranslatorRecoversAPlantedInvertibleMap()
    {
        var model = Readout();
        var rng = new Random(11);
        var map = new float[DModel * DModel];
        for (int o = 0; o < DModel; o++)
            for (int k = 0; k < DModel; k++) map[o * DModel + k] = (o == k ? 1.5f : 0f) + (float)((rng.NextDouble() * 2 - 1) * 0.15);
        var offset = Enumerable.Range(0, DModel).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var (train, trainFinal) = Planted(rng, map, offset);
        var (test, testFinal) = Planted(rng, map, offset);
        var identity = TunedLens.Identity(model.Config);
        // The "final distribution" is the readout of M·h + c; the logit lens reads h itself.
        var trainTarget = TunedLensTrainer.StageLogProbs(model, identity, 0, trainFinal);
        var testTarget = TunedLensTrainer.StageLogProbs(model, identity, 0, testFinal);

        var trainer = new TunedLensTrainer(model, TunedLens.Identity(model.Config), learningRate: 0.02f);
        for (int step = 0; step < 400; step++) trainer.Step(0, train, trainTarget);

        double logitLens = TunedLensTrainer.StageKl(model, identity, 0, test, testTarget).Average();
        double tuned = TunedLensTrainer.StageKl(model, trainer.Lens, 0, test, testTarget).Average();
        Assert.True(logitLens > 0.3, $"the planted map should cost the logit lens KL, got {logitLens:G3}");
        Assert.True(tuned < 0.01, $"held-out KL of the trained translator {tuned:G3} (logit lens {logitLens:G3})");
        // LayerNorm hides only the mean and scale of W·h + b, so its centred direction must be that of M·h + c.
        var translated = trainer.Lens.Translate(Compute.Eager, 0, test).ToArray();
        var expected = testFinal.ToArray();
        for (int n = 0; n < Rows; n++)
            Assert.True(CentredCosine(translated.AsSpan(n * DModel, DModel), expected.AsSpan(n * DModel, DModel)) > 0.99, $"row {n}");
    }

    [Fact]
    public void TheLogitLensIsTheIdentityTranslatorAndTheLastStageIsBeforeTheLastBlock()
    {
        var model = Readout();
        var identity = TunedLens.Identity(model.Config);
        Assert.Equal(2, identity.Stages);
        Assert.Equal([HookNames.ResidPre(0), HookNames.ResidPost(0)], Enumerable.Range(0, 2).Select(TunedLens.StageHook));
        // Reading the model's last residual with the identity gives exactly its output: KL 0.
        var ids = new[] { 1, 5, 9, 3 };
        var (logits, cache) = model.RunWithCache(TokenBatch.Single(ids), n => n == HookNames.ResidPost(1));
        var final = Compute.Eager.LogSoftmax(LensReadout.Rows(logits));
        var kl = LensReadout.RowKl(final.Span, TunedLensTrainer.StageLogProbs(model, identity, 1, LensReadout.Rows(cache[HookNames.ResidPost(1)])).Span, 64);
        Assert.All(kl, k => Assert.True(k < 1e-5, $"KL {k}"));
    }

    [Fact]
    public void ExplainsTunedLensWithIdentityTranslatorsIsTheLogitLens()
    {
        var model = Readout();
        var readout = new Interpretability.Explain.LogitDiffReadout(model, 1, 2);
        var needed = Interpretability.Explain.LogitLens.HookNamesNeeded(model.Config).ToHashSet();
        var (_, cache) = model.RunWithCache(TokenBatch.Single([4, 8, 15, 16, 23]), needed.Contains);
        var logit = Interpretability.Explain.LogitLens.Run(model.Config, cache, readout);
        var tuned = TunedLens.Identity(model.Config).LogitDiffs(cache, readout);
        Assert.Equal(logit.Select(p => p.Stage), tuned.Select(p => p.Stage));
        for (int i = 0; i < logit.Count; i++) Assert.Equal(logit[i].LogitDiff, tuned[i].LogitDiff, 4);
    }

    private static double CentredCosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ma = 0, mb = 0;
        for (int i = 0; i < a.Length; i++) { ma += a[i]; mb += b[i]; }
        ma /= a.Length;
        mb /= b.Length;
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (a[i] - ma) * (b[i] - mb);
            na += (a[i] - ma) * (a[i] - ma);
            nb += (b[i] - mb) * (b[i] - mb);
        }
        return dot / Math.Sqrt(na * nb);
    }
}

public sealed class LensCommandTests
{
    [Fact]
    public void TrainedLensIsSavedReloadedAndShownBesideTheLogitLens()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-lens-cli-").FullName;
        var corpus = Path.Combine(dir, "corpus.jsonl");
        // Many short documents so that the trainer's 2% validation split holds some.
        File.WriteAllLines(corpus, Enumerable.Range(0, 400).Select(i =>
            $"{{\"text\":\"Once upon a time there was a little girl called Lily number {i}. She liked to play in the park with her dog every day.\"}}"));
        var lens = Path.Combine(dir, "lens");
        var info = CliRunner.Run("lens", "train", "--corpus", corpus, "--out", lens, "--steps", "2", "--batch-size", "1", "--context", "16", "--held-out", "1", "--json").Json();
        Assert.Equal(4, info.GetProperty("held_out").GetArrayLength());
        Assert.Equal(["embed", "L0", "L1", "L2"], info.GetProperty("held_out").EnumerateArray().Select(s => s.GetProperty("stage").GetString()));
        Assert.True(File.Exists(Path.Combine(lens, TunedLens.WeightsFile)) && File.Exists(Path.Combine(lens, TunedLens.InfoFile)));

        var html = Path.Combine(dir, "lens.html");
        var report = CliRunner.Run("lens", "--prompt", "The cat sat on the", "--tuned", lens, "--top", "3", "--html", html, "--json").Json();
        var tokens = report.GetProperty("tokens").GetArrayLength();
        var stages = report.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(4, stages.Count);
        foreach (var s in stages)
        {
            Assert.Equal(tokens, s.GetProperty("logit_lens").GetArrayLength());
            Assert.Equal(tokens, s.GetProperty("tuned_lens").GetArrayLength());
            Assert.Equal(3, s.GetProperty("logit_lens")[0].GetProperty("top").GetArrayLength());
            Assert.True(s.GetProperty("logit_lens_kl").GetDouble() >= 0 && s.GetProperty("tuned_lens_kl").GetDouble() >= 0);
        }
        Assert.Equal(tokens, report.GetProperty("output").GetArrayLength());
        Assert.True(File.Exists(html));
    }

    [Fact]
    public void BadInputIsAOneLineError()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-lens-cli-").FullName;
        CliRunner.Run("lens", "--prompt", "Hello", "--tuned", dir).AssertFailed(1, "tuned-lens.safetensors");
        CliRunner.Run("lens").AssertFailed(2, "--prompt");
        CliRunner.Run("lens", "train", "--corpus", Path.Combine(dir, "missing.txt"), "--out", dir).AssertFailed(2, "missing.txt");
        // A lens for another shape of model is refused by name.
        TunedLens.Identity(new TransformerConfig { Architecture = "gpt2", DModel = 8, NLayers = 4, NHeads = 2, NKvHeads = 2, DHead = 4, DMlp = 16, VocabSize = 64, ContextLength = 16 })
            .Save(dir, new TunedLensInfo(TunedLens.Format, "other", 8, 4, 64, [], 0, 0, 0, []));
        CliRunner.Run("lens", "--prompt", "Hello", "--tuned", dir).AssertFailed(1, "another model");
    }

    [Fact]
    public void TheEmbeddedModelShipsATunedLensThatLensUsesByDefault()
    {
        var report = CliRunner.Run("lens", "--prompt", "Once upon a time", "--json").Json();
        Assert.EndsWith("tuned-lens", report.GetProperty("tuned_lens").GetString());
        Assert.All(report.GetProperty("stages").EnumerateArray(), s => Assert.True(s.GetProperty("tuned_lens_kl").GetDouble() >= 0));
    }
}

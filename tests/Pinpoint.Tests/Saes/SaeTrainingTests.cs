using System.Numerics.Tensors;
using Pinpoint.Interpretability.Saes;

namespace Pinpoint.Tests.Saes;

public class SaeTrainingTests
{
    /// <summary>
    /// 512 known unit directions in 64 dimensions, about 3 active per token: the trained decoder must contain ≥ 90%
    /// of them at cosine ≥ 0.9 (TopK in 400 steps of 512 tokens, the L1 recipe, BatchTopK and JumpReLU in 600).
    /// BatchTopK and JumpReLU need dead latents restarted (dead after 5 batches without firing, as in Bussmann et al.'s
    /// code): without it, the latents that pass the threshold early each come to cover several directions and the rest
    /// never fire again (BatchTopK: 26% recovered).
    /// </summary>
    [Theory]
    [InlineData("topk", 400, 0)]
    [InlineData("standard", 600, 0)]
    [InlineData("batchtopk", 600, 20)]
    [InlineData("jumprelu", 600, 20)]
    public void RecoversPlantedDictionary(string architecture, int steps, int resampleEvery)
    {
        using var data = new PlantedDictionary(64, 512, 3, seed: 7);
        var config = new SaeTrainConfig
        {
            Architecture = architecture, DSae = 1024, K = 4, BatchSize = 512, Steps = steps, LearningRate = 3e-3f,
            L1Coefficient = 5f,
            DeadTokens = resampleEvery > 0 ? 5 * 512 : 50_000, ResampleEvery = resampleEvery, ResampleEncoderScale = 1f,
            LogEvery = 1000, BufferTokens = 512,
        };
        using var trainer = new SaeTrainer(config, data, new SaeMetadata { HookName = "planted" });
        SaeStepReport? last = null;
        trainer.Run(r => last = r, TestContext.Current.CancellationToken);
        var sae = trainer.Export();
        double recovered = data.Recovered(sae, 0.9);
        Assert.True(recovered >= 0.9, $"{architecture}: recovered {recovered:P1} of the planted directions (last step: mse {last?.Mse:0.###}, l0 {last?.L0:0.#}, EV {last?.ExplainedVariance:0.###}, dead {last?.DeadFraction:P0})");
    }

    /// <summary>
    /// The hand-written backward pass against central differences of the loss, for every parameter with a true
    /// gradient (JumpReLU's threshold has only a straight-through estimate). Where the decoder is kept at unit norm,
    /// the trainer removes the gradient's component along each row, and the numerical gradient is projected the same way.
    /// </summary>
    [Theory]
    [InlineData("standard")]
    [InlineData("topk")]
    [InlineData("batchtopk")]
    [InlineData("jumprelu")]
    [InlineData("jumprelu", "step")]
    public void GradientsMatchFiniteDifferences(string architecture, string jumpReluSparsity = "tanh")
    {
        const int dIn = 5, dSae = 7, rows = 6;
        using var data = new PlantedDictionary(dIn, 9, 2, seed: 3);
        var config = new SaeTrainConfig
        {
            Architecture = architecture, DSae = dSae, K = 3, BatchSize = rows, Steps = 10, InitBatches = 1, BufferTokens = rows,
            L1Coefficient = 0.7f, L0Coefficient = 0.3f, AuxK = 2, AuxKCoefficient = 0.5f, JumpReluInitialThreshold = 0.2f, JumpReluSparsity = jumpReluSparsity,
            NormalizeActivations = false, BDecInit = "mean", DeadTokens = 1_000_000, // no AuxK: it treats its target x − x̂ as a constant
        };
        using var trainer = new SaeTrainer(config, data, new SaeMetadata());
        for (int i = 0; i < 3; i++) trainer.TrainStep(); // move away from the symmetric initialisation (W_enc = W_decᵀ)
        var batch = new float[rows * dIn];
        data.Fill(99, rows, batch);
        var rng = new Random(5);
        for (int i = 0; i < batch.Length; i++) batch[i] += (float)(rng.NextDouble() - 0.5) * 0.3f;

        double baseLoss = trainer.LossAndGradients(batch, 1f).Loss;
        var analytic = trainer.ParametersAndGradients.Select(p => (p.Name, p.Param, Grad: p.Grad.ToArray())).ToList();
        const float h = 1e-3f;
        foreach (var (name, param, grad) in analytic)
        {
            if (name == "log_threshold" || param.Length == 0) continue;
            var numeric = new double[param.Length];
            // Where a ReLU or a top-k choice flips inside ±h the loss has a kink there and no central difference is a
            // gradient; such points show as one-sided slopes that disagree, and are left out (at most a tenth of them).
            var kink = new bool[param.Length];
            for (int i = 0; i < param.Length; i++)
            {
                float saved = param[i];
                param[i] = saved + h;
                double plus = trainer.LossAndGradients(batch, 1f).Loss;
                param[i] = saved - h;
                double minus = trainer.LossAndGradients(batch, 1f).Loss;
                param[i] = saved;
                numeric[i] = (plus - minus) / (2 * h);
                double right = (plus - baseLoss) / h, left = (baseLoss - minus) / h;
                kink[i] = Math.Abs(right - left) > 4e-3 + 0.1 * Math.Max(Math.Abs(right), Math.Abs(left));
            }
            if (name == "W_dec" && trainer.ProjectsDecoderGradient)
                for (int j = 0; j < dSae; j++)
                {
                    var row = param.AsSpan(j * dIn, dIn);
                    double along = 0;
                    for (int c = 0; c < dIn; c++) along += numeric[j * dIn + c] * row[c];
                    for (int c = 0; c < dIn; c++) numeric[j * dIn + c] -= along * row[c];
                    // The projection mixes the whole row, so one kink spoils every entry of it.
                    if (kink.AsSpan(j * dIn, dIn).Contains(true)) kink.AsSpan(j * dIn, dIn).Fill(true);
                }
            int skipped = kink.Count(k => k);
            Assert.True(skipped <= param.Length / 10 + 1, $"{architecture} {name}: {skipped} of {param.Length} entries sit on a kink");
            for (int i = 0; i < param.Length; i++)
                if (!kink[i])
                    Assert.True(Math.Abs(numeric[i] - grad[i]) <= 4e-3 + 3e-2 * Math.Abs(numeric[i]),
                        $"{architecture} {name}[{i}]: analytic {grad[i]:G5}, numerical {numeric[i]:G5}");
        }
    }
}

public class SaeResumeTests
{
    /// <summary>Stopping after a checkpoint and resuming from it gives bit-identical weights to a run that never stopped.</summary>
    [Theory]
    [InlineData("topk")]
    [InlineData("batchtopk")]
    [InlineData("jumprelu")]
    public void ResumedRunMatchesUninterruptedRun(string architecture)
    {
        using var dir = new Pinpoint.Tests.Formats.FormatTestUtil.TempDir();
        var config = new SaeTrainConfig
        {
            Architecture = architecture, DSae = 64, K = 4, BatchSize = 128, Steps = 8, CheckpointEvery = 4, DeadTokens = 256,
            BufferTokens = 128, InitBatches = 2, ResampleEvery = 3, // restarts at steps 3 and 6, either side of the resume
        };
        Sae Train(string outDir, int stopAt)
        {
            using var data = new PlantedDictionary(16, 48, 3, seed: 2);
            using var first = new SaeTrainer(config, data, new SaeMetadata { HookName = "h" }, outDir);
            first.Run(cancel: TestContext.Current.CancellationToken, untilStep: stopAt);
            if (stopAt == config.Steps) return first.Export();
            using var again = new PlantedDictionary(16, 48, 3, seed: 2);
            using var resumed = new SaeTrainer(config, again, new SaeMetadata { HookName = "h" }, outDir, Path.Combine(outDir, "checkpoints", $"step-{stopAt:D7}"));
            Assert.Equal(stopAt, resumed.Step);
            resumed.Run(cancel: TestContext.Current.CancellationToken);
            return resumed.Export();
        }
        var straight = Train(Path.Combine(dir.Path, "a"), 8);
        var resumedSae = Train(Path.Combine(dir.Path, "b"), 4);
        Assert.Equal(straight.EncoderRows, resumedSae.EncoderRows);
        Assert.Equal(straight.Decoder, resumedSae.Decoder);
        Assert.Equal(straight.BDec, resumedSae.BDec);
        Assert.Equal(straight.Threshold, resumedSae.Threshold);
        Assert.Equal(File.ReadAllLines(Path.Combine(dir.Path, "a", "metrics.jsonl")).Length, File.ReadAllLines(Path.Combine(dir.Path, "b", "metrics.jsonl")).Length);
    }
}

public class SaeNonFiniteTests
{
    private sealed class PoisonedAfter(IActivationBatches inner, long poisonFrom) : IActivationBatches
    {
        public int DIn => inner.DIn;
        public void Fill(long index, int rows, Span<float> destination)
        {
            inner.Fill(index, rows, destination);
            if (index >= poisonFrom) destination[3] = float.NaN;
        }
        public void Dispose() => inner.Dispose();
    }

    /// <summary>A NaN in the activations stops training before any update, and the last checkpoint stays loadable.</summary>
    [Fact]
    public void NonFiniteLossStopsKeepingTheLastCheckpoint()
    {
        using var dir = new Pinpoint.Tests.Formats.FormatTestUtil.TempDir();
        var config = new SaeTrainConfig { DSae = 32, K = 4, BatchSize = 64, Steps = 10, CheckpointEvery = 2, BufferTokens = 64, InitBatches = 1 };
        using var trainer = new SaeTrainer(config, new PoisonedAfter(new PlantedDictionary(16, 24, 2, seed: 4), 4), new SaeMetadata { HookName = "h" }, dir.Path);
        var e = Assert.Throws<InvalidDataException>(() => trainer.Run(cancel: TestContext.Current.CancellationToken));
        Assert.Contains("SAE loss became NaN at step 5", e.Message);
        Assert.Equal(4, trainer.Step);
        var kept = SaeLensFormat.Read(Path.Combine(dir.Path, "checkpoints", "step-0000004"));
        Assert.Null(kept.FirstNonFinite());
    }
}

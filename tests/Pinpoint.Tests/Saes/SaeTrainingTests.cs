using System.Numerics.Tensors;
using Pinpoint.Interpretability.Saes;

namespace Pinpoint.Tests.Saes;

public class SaeTrainingTests
{
    /// <summary>
    /// 512 known unit directions in 64 dimensions, about 3 active per token: the trained decoder must contain ≥ 90%
    /// of them at cosine ≥ 0.9 (TopK in 400 steps of 512 tokens, the L1 recipe in 600).
    /// </summary>
    [Theory]
    [InlineData("topk", 400)]
    [InlineData("standard", 600)]
    public void RecoversPlantedDictionary(string architecture, int steps)
    {
        using var data = new PlantedDictionary(64, 512, 3, seed: 7);
        var config = new SaeTrainConfig
        {
            Architecture = architecture, DSae = 1024, K = 4, BatchSize = 512, Steps = steps, LearningRate = 3e-3f,
            L1Coefficient = 5f,
            DeadTokens = 50_000, LogEvery = 1000, BufferTokens = 512,
        };
        using var trainer = new SaeTrainer(config, data, new SaeMetadata { HookName = "planted" });
        SaeStepReport? last = null;
        trainer.Run(r => last = r);
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
    public void GradientsMatchFiniteDifferences(string architecture)
    {
        const int dIn = 5, dSae = 7, rows = 6;
        using var data = new PlantedDictionary(dIn, 9, 2, seed: 3);
        var config = new SaeTrainConfig
        {
            Architecture = architecture, DSae = dSae, K = 3, BatchSize = rows, Steps = 10, InitBatches = 1, BufferTokens = rows,
            L1Coefficient = 0.7f, L0Coefficient = 0.3f, AuxK = 2, AuxKCoefficient = 0.5f, JumpReluInitialThreshold = 0.2f,
            NormalizeActivations = false, BDecInit = "mean", DeadTokens = 1,
        };
        using var trainer = new SaeTrainer(config, data, new SaeMetadata());
        for (int i = 0; i < 3; i++) trainer.TrainStep(); // move away from the symmetric initialisation (W_enc = W_decᵀ)
        var batch = new float[rows * dIn];
        data.Fill(99, rows, batch);
        var rng = new Random(5);
        for (int i = 0; i < batch.Length; i++) batch[i] += (float)(rng.NextDouble() - 0.5) * 0.3f;

        trainer.LossAndGradients(batch, 1f);
        var analytic = trainer.ParametersAndGradients.Select(p => (p.Name, p.Param, Grad: p.Grad.ToArray())).ToList();
        const float h = 1e-3f;
        foreach (var (name, param, grad) in analytic)
        {
            if (name == "log_threshold" || param.Length == 0) continue;
            var numeric = new double[param.Length];
            for (int i = 0; i < param.Length; i++)
            {
                float saved = param[i];
                param[i] = saved + h;
                double plus = trainer.LossAndGradients(batch, 1f).Loss;
                param[i] = saved - h;
                double minus = trainer.LossAndGradients(batch, 1f).Loss;
                param[i] = saved;
                numeric[i] = (plus - minus) / (2 * h);
            }
            if (name == "W_dec" && trainer.ProjectsDecoderGradient)
                for (int j = 0; j < dSae; j++)
                {
                    var row = param.AsSpan(j * dIn, dIn);
                    double along = 0;
                    for (int c = 0; c < dIn; c++) along += numeric[j * dIn + c] * row[c];
                    for (int c = 0; c < dIn; c++) numeric[j * dIn + c] -= along * row[c];
                }
            for (int i = 0; i < param.Length; i++)
                Assert.True(Math.Abs(numeric[i] - grad[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric[i]),
                    $"{architecture} {name}[{i}]: analytic {grad[i]:G5}, numerical {numeric[i]:G5}");
        }
    }
}

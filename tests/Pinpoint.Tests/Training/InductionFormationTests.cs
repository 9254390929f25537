using Pinpoint.Interpretability.Training;

namespace Pinpoint.Tests.Training;

/// <summary>A 2-layer attention-only model trained on repeated random tokens forms an induction head.</summary>
public class InductionFormationTests
{
    [Fact]
    public void InductionHeadAppearsAndRepeatedHalfLossDrops()
    {
        const int vocab = 64;
        var config = new TrainConfig
        {
            Architecture = "gpt2", AttentionOnly = true, SaveCheckpoints = false, DModel = 64, NLayers = 2, NHeads = 4,
            Context = 64, VocabSize = vocab, BatchSize = 32, Steps = 500, LearningRate = 1e-2f, MinLearningRate = 1e-3f,
            WarmupSteps = 30, WeightDecay = 0f, EvalEvery = 50, EvalBatches = 1, Metrics = ["induction", "prev_token"],
        };
        var dir = Path.Combine(Path.GetTempPath(), "pinpoint-induction-" + Guid.NewGuid().ToString("N"));
        var reports = new List<StepReport>();
        using (var trainer = new Trainer(config, new RepeatedRandomTokens(vocab), vocab, null, dir))
            trainer.Run(reports.Add);

        foreach (var r in reports.Where(r => r.Dynamics is not null)) Console.WriteLine($"{r.Step} loss {r.TrainLoss:F3} ind {r.Dynamics!["induction_score"]:F3} prev {r.Dynamics["prev_token_score"]:F3} rep {r.Dynamics["repeated_half_loss"]:F3} first {r.Dynamics["first_half_loss"]:F3}");
        var first = reports.First(r => r.Dynamics is not null).Dynamics!;
        var last = reports[^1].Dynamics!;
        Assert.True(last["repeated_half_loss"] < 0.5 * last["first_half_loss"],
            $"repeated half loss {last["repeated_half_loss"]:F3} vs first half {last["first_half_loss"]:F3}");
        Assert.True(last["induction_score"] > 0.4 && last["induction_score"] > 2 * first["induction_score"],
            $"induction score {first["induction_score"]:F3} → {last["induction_score"]:F3}");
        Assert.True(last["prev_token_score"] > 0.3, $"previous-token score {last["prev_token_score"]:F3}");
    }
}

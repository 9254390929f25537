using Pinpoint.Interpretability.Dynamics;

namespace Pinpoint.Tests.Dynamics;

/// <summary>Phase changes and formation steps on synthetic series with known answers.</summary>
public class PhaseChangeTests
{
    private static readonly int[] LogSteps = [1, 2, 4, 8, 16, 32, 64];

    [Fact]
    public void FastestChangeIsThePlantedJumpPerStepNotTheLargestRawChange()
    {
        // 0.1 → 0.5 over 8 steps (0.05/step) beats 0.5 → 0.9 over 32 steps (0.0125/step) although both move 0.4.
        double?[] induction = [0.02, 0.03, 0.05, 0.1, 0.5, 0.7, 0.9];
        var change = DynamicsAnalysis.FastestChange("induction", LogSteps, induction)!;
        Assert.Equal(("induction", 8, 16), (change.Metric, change.FromStep, change.Step));
        Assert.Equal(0.4, change.Size, 12);
    }

    [Fact]
    public void FastestChangeKeepsTheSignAndSkipsMissingValues()
    {
        // The loss is missing at steps 2 and 8: the intervals bridge them (1→4 and 4→16).
        double?[] loss = [6.0, null, 5.0, null, 2.0, 1.9, 1.85];
        var change = DynamicsAnalysis.FastestChange("val_loss", LogSteps, loss)!;
        Assert.Equal((1, 4), (change.FromStep, change.Step));
        Assert.Equal(-1.0, change.Size, 12);
        Assert.Null(DynamicsAnalysis.FastestChange("val_loss", LogSteps, [null, null, 3.0, null, null, null, double.NaN]));
    }

    [Fact]
    public void FormationIsTheFirstStepAtHalfTheFinalEffect()
    {
        var rising = DynamicsAnalysis.FormationOf("L1H0", LogSteps, [0.0, 0.1, 0.3, 0.9, 1.0, 1.8, 2.0]);
        Assert.Equal(16, rising.StepHalf); // half of 2.0 is first reached at step 16 (0.9 at step 8 falls short)
        Assert.Equal(2.0, rising.FinalEffect);
    }

    [Fact]
    public void FormationFollowsTheSignOfTheFinalEffect()
    {
        // A negative mechanism forms when it reaches −1 (half of −2); the early positive blip does not count.
        var negative = DynamicsAnalysis.FormationOf("MLP0", LogSteps, [1.5, 0.2, -0.4, -1.1, -1.5, -1.9, -2.0]);
        Assert.Equal(8, negative.StepHalf);
        var none = DynamicsAnalysis.FormationOf("L0H1", LogSteps, [0.3, 0.1, 0, 0, 0, 0, 0.0]);
        Assert.Null(none.StepHalf);
    }

    [Fact]
    public void TheTaskIsDecidedEarlyOnlyWhenTheLastCheckpointPrefersTheTargets()
    {
        Assert.Equal(3, DynamicsAnalysis.EarlyIndex([-0.3, -0.1, 0.2, 0.6, 1.0, 1.1, 1.2]));
        Assert.Null(DynamicsAnalysis.EarlyIndex([-0.3, -0.2, -0.2, -0.4, -0.5, -0.5, -0.6]));
    }
}

using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>Integrated-gradients attribution patching against plain attribution patching and the exact activation patching.</summary>
public class IntegratedGradientsTests
{
    private static (PatchingResult Exact, PatchingResult Plain, PatchingResult Integrated) Run(HookedTransformer model, int steps = IntegratedGradients.DefaultSteps)
    {
        var readout = new LogitDiffReadout(model, PlantedModel.Target, PlantedModel.Foil);
        var (clean, cf) = (PlantedModel.Clean, PlantedModel.Counterfactual);
        return (ActivationPatching.Run(model, clean, cf, readout, PatchDirection.Denoise),
            AttributionPatching.Run(model, clean, cf, readout, PatchDirection.Denoise),
            IntegratedGradients.Run(model, clean, cf, readout, steps));
    }

    /// <summary>Summed absolute difference between two patching results over every cell.</summary>
    private static double Distance(PatchingResult a, PatchingResult b) =>
        Explainer.Cells(a).Zip(Explainer.Cells(b)).Sum(p => Math.Abs(p.First - p.Second));

    [Fact]
    public void WhereThePathCurvesIntegratedGradientsAreCloserToActivationPatching()
    {
        var (exact, plain, integrated) = Run(PlantedModel.Build());
        double plainError = Distance(exact, plain), integratedError = Distance(exact, integrated);
        Assert.True(plainError > 1e-2, $"the planted model must be nonlinear enough to tell the estimates apart (plain error {plainError:G3})");
        Assert.True(integratedError < plainError, $"integrated gradients {integratedError:G4} vs plain {plainError:G4}");
        Assert.True(Explainer.Agreement(exact, integrated) >= Explainer.Agreement(exact, plain) - 1e-9);
        // Completeness: the embedding output's cells add up to the whole difference, up to the midpoint rule's error.
        Assert.Equal(1.0, integrated.ResidualByLayerPosition[0].Sum(), 1);
        Assert.True(Math.Abs(1 - integrated.ResidualByLayerPosition[0].Sum()) < Math.Abs(1 - plain.ResidualByLayerPosition[0].Sum()));
    }

    [Fact]
    public void WhereThePathIsLinearBothEstimatesEqualActivationPatching()
    {
        var (exact, plain, integrated) = Run(PlantedModel.Build(linear: true));
        Assert.True(Math.Abs(exact.CleanDiff - exact.CounterfactualDiff) > 1e-3, "the linear planted pair must still change the metric");
        Assert.True(Distance(exact, plain) < 1e-4, $"attribution patching misses activation patching by {Distance(exact, plain):G3}");
        Assert.True(Distance(plain, integrated) < 1e-4, $"estimates differ by {Distance(plain, integrated):G3}");
        Assert.True(Distance(exact, integrated) < 1e-4, $"integrated gradients miss activation patching by {Distance(exact, integrated):G3}");
    }

    [Fact]
    public void StepsMustBePositive() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Run(PlantedModel.Build(), steps: 0));
}

using Pinpoint.Interpretability.Reports;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// Estimated patching grids (explain's default above the size threshold) on the planted model, whose nonlinearity
/// makes attribution patching miss: the verified cells are exactly activation patching's, the rest exactly the estimate's.
/// </summary>
public class EstimatedPatchingTests
{
    private static (PatchingResult Exact, PatchingResult Estimate, LogitDiffReadout Readout, HookedTransformer Model) Run(PatchDirection direction)
    {
        var model = PlantedModel.Build();
        var readout = new LogitDiffReadout(model, PlantedModel.Target, PlantedModel.Foil);
        return (ActivationPatching.Run(model, PlantedModel.Clean, PlantedModel.Counterfactual, readout, direction),
            AttributionPatching.Run(model, PlantedModel.Clean, PlantedModel.Counterfactual, readout, direction), readout, model);
    }

    [Theory]
    [InlineData(PatchDirection.Denoise)]
    [InlineData(PatchDirection.Noise)]
    public void TheLargestEstimatesAreReplacedByExactPatching(PatchDirection direction)
    {
        var (exact, estimate, readout, model) = Run(direction);
        var exactCells = Explainer.Cells(exact);
        var estimateCells = Explainer.Cells(estimate);
        Assert.True(exactCells.Zip(estimateCells).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the planted model must make the estimate differ from exact patching");
        const int verify = 5;
        var (result, estimated, measured) = EstimatedPatching.Verify(model, PlantedModel.Clean, PlantedModel.Counterfactual, readout, estimate, verify);
        var cells = Explainer.Cells(result);
        var largest = estimateCells.Select((v, i) => (Value: Math.Abs(v), Index: i)).OrderByDescending(x => x.Value).Take(verify).Select(x => x.Index).ToHashSet();
        for (int i = 0; i < cells.Count; i++)
            Assert.Equal(largest.Contains(i) ? exactCells[i] : estimateCells[i], cells[i], 12);
        Assert.Equal(verify, measured.Length);
        Assert.Equal(largest.Order().Select(i => estimateCells[i]).Order(), estimated.Order());
        Assert.Equal(exact.CleanDiff, result.CleanDiff, 12);
        Assert.Equal(exact.CounterfactualDiff, result.CounterfactualDiff, 12);
    }

    [Fact]
    public void VerifyingEveryCellIsFullPatching()
    {
        var (exact, estimate, readout, model) = Run(PatchDirection.Denoise);
        var (_, noiseEstimate, _, _) = Run(PatchDirection.Noise);
        int all = Explainer.Cells(exact).Count;
        var (denoise, noise, note) = EstimatedPatching.Run(model, PlantedModel.Clean, PlantedModel.Counterfactual, readout, estimate, noiseEstimate, all);
        Assert.Equal(Explainer.Cells(exact), Explainer.Cells(denoise));
        Assert.Equal(Explainer.Cells(ActivationPatching.Run(model, PlantedModel.Clean, PlantedModel.Counterfactual, readout, PatchDirection.Noise)), Explainer.Cells(noise));
        Assert.Equal(all, note.VerifiedCells);
        Assert.Equal(all, note.Cells);
        Assert.True(note.MaxVerifiedError > 1e-3);
        Assert.Contains($"top {all} of {all} cells", note.Note);
    }

    [Fact]
    public void AutoEstimatesOnlyAboveTheThreshold()
    {
        var model = PlantedModel.Build();
        Assert.True(model.ParameterCount < EstimatedPatching.ParameterThreshold);
        Assert.False(EstimatedPatching.Applies(PatchingPolicy.Auto, model));
        Assert.False(EstimatedPatching.Applies(PatchingPolicy.Full, model));
        Assert.True(EstimatedPatching.Applies(PatchingPolicy.Estimated, model));
    }

    /// <summary>Explain with estimated grids says so in its JSON and its caveats; with exact ones (the small model's default) it carries no note.</summary>
    [Fact]
    public void ExplainReportsEstimatedGrids()
    {
        using var loaded = NastyTokenReport.Load();
        var item = NastyTokenReport.Items[0];
        var request = new ExplainRequest(item.Prompt, item.Target, item.Foil, item.Counterfactual);
        var options = new ExplainOptions { TopK = 5, VerifyK = 3, ReferencePrompts = ["xyz"], Patching = PatchingPolicy.Estimated, VerifiedCells = 4 };
        var report = Explainer.Explain(loaded, request, options);
        var note = Assert.IsType<PatchingEstimateNote>(report.EstimatedPatching);
        Assert.Equal(4, note.VerifiedCells);
        Assert.Equal(Explainer.Cells(report.Denoising).Count, note.Cells);
        Assert.Contains(report.Summary.Caveats, c => c.Contains("estimated by attribution patching; top 4 of"));
        Assert.Contains("\"estimated_patching\"", ReportJson.Serialize(report));
        Assert.Null(Explainer.Explain(loaded, request, options with { Patching = PatchingPolicy.Auto }).EstimatedPatching);
    }
}

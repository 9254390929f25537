using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>How explain fills its activation-patching grids.</summary>
public enum PatchingPolicy
{
    /// <summary>Full patching up to <see cref="EstimatedPatching.ParameterThreshold"/> parameters, estimated above it.</summary>
    Auto,
    /// <summary>One forward pass per cell: exact, and (layers + 1) × positions + layers × (heads + 2) forwards per direction.</summary>
    Full,
    /// <summary>Attribution patching (one forward and one backward pass), the largest cells re-measured by real patching.</summary>
    Estimated,
}

/// <summary>On a report whose patching grids were estimated: how many cells of each direction real patching measured.</summary>
/// <param name="VerifiedCells">Cells per direction whose value is exact (the largest |estimate|).</param>
/// <param name="Cells">Cells per direction.</param>
/// <param name="SpearmanOnVerified">Rank agreement of estimate and exact value over the verified denoising cells.</param>
/// <param name="MaxVerifiedError">The largest |estimate − exact| among the verified cells of both directions (shares of the difference).</param>
public sealed record PatchingEstimateNote(int VerifiedCells, int Cells, double SpearmanOnVerified, double MaxVerifiedError)
{
    public string Note => $"estimated by attribution patching; top {VerifiedCells} of {Cells} cells per direction verified by activation patching";
}

/// <summary>
/// Activation patching at scale: one forward per cell is 2 × 1,207 forwards for a 16-layer, 32-head model on a
/// 12-token prompt, so above <see cref="ParameterThreshold"/> parameters explain estimates every cell by attribution
/// patching and re-measures only the largest estimates exactly (those are what the rankings and the summary read).
/// </summary>
public static class EstimatedPatching
{
    /// <summary>Models with more parameters than this get estimated grids under <see cref="PatchingPolicy.Auto"/> (GPT-2 small, 124M, stays exact).</summary>
    public const long ParameterThreshold = 300_000_000;

    /// <summary>Cells per direction measured exactly by default.</summary>
    public const int DefaultVerifiedCells = 32;

    public static bool Applies(PatchingPolicy policy, HookedTransformer model) =>
        policy == PatchingPolicy.Estimated || (policy == PatchingPolicy.Auto && model.ParameterCount > ParameterThreshold);

    /// <summary>
    /// <paramref name="estimate"/> (attribution patching in one direction) with its <paramref name="verify"/> largest
    /// cells by |estimate| replaced by activation patching's exact values, the estimated and exact pairs of those cells.
    /// </summary>
    public static (PatchingResult Result, double[] Estimated, double[] Exact) Verify(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual,
        AnswerMetric metric, PatchingResult estimate, int verify)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(verify);
        var top = PatchCell.Of(estimate).OrderByDescending(c => Math.Abs(c.Value)).Take(verify).ToList();
        var (exact, cleanDiff, cfDiff) = ActivationPatching.Cells(model, clean, counterfactual, metric, estimate.Direction, top.Select(c => c.Cell).ToList());
        var residual = estimate.ResidualByLayerPosition.Select(r => (double[])r.Clone()).ToArray();
        var attn = (double[])estimate.AttentionOut.Clone();
        var mlp = (double[])estimate.MlpOut.Clone();
        var heads = estimate.Heads.Select(h => (double[])h.Clone()).ToArray();
        for (int i = 0; i < top.Count; i++)
        {
            var cell = top[i].Cell;
            switch (cell.Site)
            {
                case PatchSite.Residual: residual[cell.Layer][cell.Index] = exact[i]; break;
                case PatchSite.AttentionOut: attn[cell.Layer] = exact[i]; break;
                case PatchSite.MlpOut: mlp[cell.Layer] = exact[i]; break;
                default: heads[cell.Layer][cell.Index] = exact[i]; break;
            }
        }
        var result = new PatchingResult(estimate.Direction, cleanDiff, cfDiff, residual, attn, mlp, heads);
        return (result, top.Select(c => c.Value).ToArray(), exact);
    }

    /// <summary>Both directions verified, with the note the report carries.</summary>
    public static (PatchingResult Denoise, PatchingResult Noise, PatchingEstimateNote Note) Run(HookedTransformer model, TokenBatch clean, TokenBatch counterfactual,
        AnswerMetric metric, PatchingResult denoiseEstimate, PatchingResult noiseEstimate, int verify)
    {
        var (denoise, denoiseEstimated, denoiseExact) = Verify(model, clean, counterfactual, metric, denoiseEstimate, verify);
        var (noise, noiseEstimated, noiseExact) = Verify(model, clean, counterfactual, metric, noiseEstimate, verify);
        double maxError = denoiseEstimated.Zip(denoiseExact).Concat(noiseEstimated.Zip(noiseExact)).Select(p => Math.Abs(p.First - p.Second)).DefaultIfEmpty(0).Max();
        var note = new PatchingEstimateNote(denoiseExact.Length, PatchCell.Of(denoiseEstimate).Count(),
            denoiseExact.Length > 1 ? Statistics.Spearman(denoiseEstimated, denoiseExact) : double.NaN, maxError);
        return (denoise, noise, note);
    }
}

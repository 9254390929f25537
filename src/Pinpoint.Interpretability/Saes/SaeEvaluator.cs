using System.Text.Json.Serialization;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Saes;

/// <summary>One bin of the feature-density histogram: features whose log10 firing rate is in [Low, High).</summary>
public sealed record DensityBin(double Low, double High, int Features);

/// <summary>
/// How well an SAE reconstructs its hook on some text, and what splicing it in costs the model.
/// <c>explained_variance</c> = 1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² with x̄ the per-dimension mean (not zero);
/// <c>ce_loss_score</c> = (CE_zero − CE_sae) / (CE_zero − CE_clean) and <c>kl_div_score</c> = 1 − KL_sae / KL_zero,
/// where "zero" replaces the hook's activation with zeros and "sae" with the reconstruction (no error term).
/// </summary>
public sealed record SaeEvalResult
{
    public string Sae { get; init; } = "";
    public string Hook { get; init; } = "";
    public long Tokens { get; init; }
    public double L0 { get; init; }
    public double? ExplainedVariance { get; init; }
    public double Mse { get; init; }
    public double? Cossim { get; init; }
    public double? L2Ratio { get; init; }
    public double CeLossClean { get; init; }
    public double CeLossSae { get; init; }
    public double CeLossZero { get; init; }
    /// <summary>Null when zero-ablation costs nothing (the score is undefined), with the reason in <see cref="Notes"/>.</summary>
    public double? CeLossScore { get; init; }
    public double KlDivSae { get; init; }
    public double KlDivZero { get; init; }
    public double? KlDivScore { get; init; }
    public double DeadFraction { get; init; }
    [JsonPropertyName("dense_fraction_1pct")]
    public double DenseFraction1pct { get; init; }
    [JsonPropertyName("dense_fraction_10pct")]
    public double DenseFraction10pct { get; init; }
    public IReadOnlyList<DensityBin> DensityHistogram { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];
}

public static class SaeEvaluator
{
    /// <summary>Runs every window through the model clean, with the SAE spliced in, and with the hook zeroed.</summary>
    public static SaeEvalResult Evaluate(HookedTransformer model, Sae sae, string saePath, IEnumerable<HarvestSequence> windows,
        int batchSize = 8, IProgress<long>? progress = null)
    {
        SaeSplice.CheckFits(sae, model, saePath);
        string hook = sae.Metadata.HookName;
        int d = sae.DIn, n = sae.DSae, vocab = model.Config.VocabSize;
        long tokens = 0, predicted = 0;
        double sumSq = 0, residual = 0, cos = 0, l2Ratio = 0, active = 0, ceClean = 0, ceSae = 0, ceZero = 0, klSae = 0, klZero = 0;
        var sum = new double[d];
        var fires = new long[n];
        foreach (var chunk in windows.Chunk(batchSize))
        {
            var batch = TokenBatch.LeftPadded(chunk.Select(w => (IReadOnlyList<int>)w.Ids).ToList(), padId: 0);
            var (clean, cache) = model.RunWithCache(batch, h => h == hook, Compute.Eager);
            var x = cache[hook].Contiguous();
            int len = batch.Length;
            var spliced = new HookSet().Splice(sae, Compute.Eager);
            var withSae = model.Forward(Compute.Eager, batch, spliced);
            var zeroed = model.RunWithHooks(batch, [(hook, (t, _) => Tensor.Zeros(t.Shape.ToArray()))]);

            int rows = batch.BatchSize * len;
            var acts = new float[rows * n];
            var recon = new float[rows * d];
            sae.Encode(x.Span, rows, acts);
            sae.Decode(acts, rows, recon);
            for (int b = 0; b < chunk.Length; b++)
            {
                int pad = len - chunk[b].Ids.Length;
                for (int p = pad; p < len; p++)
                {
                    int r = b * len + p;
                    var xr = x.Span.Slice(r * d, d);
                    var xh = recon.AsSpan(r * d, d);
                    double xx = 0, hh = 0, xhDot = 0, err = 0;
                    for (int i = 0; i < d; i++)
                    {
                        xx += xr[i] * xr[i];
                        hh += xh[i] * xh[i];
                        xhDot += xr[i] * xh[i];
                        double e = xr[i] - xh[i];
                        err += e * e;
                        sum[i] += xr[i];
                    }
                    sumSq += xx;
                    residual += err;
                    if (xx > 0 && hh > 0) cos += xhDot / Math.Sqrt(xx * hh);
                    if (xx > 0) l2Ratio += Math.Sqrt(hh / xx);
                    var a = acts.AsSpan(r * n, n);
                    for (int j = 0; j < n; j++)
                        if (a[j] != 0) { fires[j]++; active++; }
                    tokens++;
                    if (p == len - 1) continue;
                    int target = chunk[b].Ids[p - pad + 1];
                    var lpClean = LanguageModelling.LogSoftmax(clean.Span.Slice(r * vocab, vocab));
                    var lpSae = LanguageModelling.LogSoftmax(withSae.Span.Slice(r * vocab, vocab));
                    var lpZero = LanguageModelling.LogSoftmax(zeroed.Span.Slice(r * vocab, vocab));
                    ceClean -= lpClean[target];
                    ceSae -= lpSae[target];
                    ceZero -= lpZero[target];
                    klSae += LanguageModelling.KlDivergence(lpClean, lpSae);
                    klZero += LanguageModelling.KlDivergence(lpClean, lpZero);
                    predicted++;
                }
            }
            progress?.Report(tokens);
        }
        if (tokens == 0) throw new ArgumentException("the evaluation text gave no tokens");
        if (predicted == 0) throw new ArgumentException("the evaluation text has no window of two or more tokens to predict from");
        double meanSq = 0;
        for (int i = 0; i < d; i++) meanSq += sum[i] / tokens * (sum[i] / tokens);
        double variance = sumSq - tokens * meanSq;
        var notes = new List<string>();
        ceClean /= predicted; ceSae /= predicted; ceZero /= predicted; klSae /= predicted; klZero /= predicted;
        double? ceScore = ceZero - ceClean > 1e-9 ? (ceZero - ceSae) / (ceZero - ceClean) : null;
        if (ceScore is null) notes.Add("ce_loss_score is null: zeroing the hook does not raise the loss, so there is nothing to recover");
        double? klScore = klZero > 1e-12 ? 1 - klSae / klZero : null;
        if (klScore is null) notes.Add("kl_div_score is null: zeroing the hook does not change the predictions");
        double? ev = variance > 0 ? 1 - residual / variance : null;
        if (ev is null) notes.Add("explained_variance is null: the activations do not vary");
        var density = fires.Select(f => f / (double)tokens).ToArray();
        return new SaeEvalResult
        {
            Sae = saePath, Hook = hook, Tokens = tokens, L0 = active / tokens, ExplainedVariance = ev, Mse = residual / tokens / d,
            Cossim = cos / tokens, L2Ratio = l2Ratio / tokens,
            CeLossClean = ceClean, CeLossSae = ceSae, CeLossZero = ceZero, CeLossScore = ceScore,
            KlDivSae = klSae, KlDivZero = klZero, KlDivScore = klScore,
            DeadFraction = density.Count(v => v == 0) / (double)n,
            DenseFraction1pct = density.Count(v => v > 0.01) / (double)n,
            DenseFraction10pct = density.Count(v => v > 0.1) / (double)n,
            DensityHistogram = Histogram(density), Notes = notes,
        };
    }

    /// <summary>Features by log10 density in unit bins from −8 to 0 (never-firing features are counted as dead, not binned).</summary>
    private static IReadOnlyList<DensityBin> Histogram(double[] density)
    {
        var bins = new List<DensityBin>();
        for (int low = -8; low < 0; low++)
            bins.Add(new DensityBin(low, low + 1, density.Count(v => v > 0 && Math.Floor(Math.Log10(v)) == low || (low == -1 && v == 1))));
        return bins;
    }
}

using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

/// <summary>MEMIT's settings (Meng et al., 2023).</summary>
public sealed record MemitOptions
{
    /// <summary>The MLP layers whose output matrices are edited, in any order; the target residual is taken after the last.</summary>
    public required IReadOnlyList<int> Layers { get; init; }
    /// <summary>
    /// λ (mom2_update_weight): how many keys' worth the preserved covariance C counts for against the new keys; null for
    /// <see cref="DefaultUpdateWeightPerWidth"/> times the MLP's width. A typical key has kᵀC⁻¹k ≈ width, so λ = width stores
    /// about half of a residual in one layer (MEMIT's GPT-J setting, 15,000 for a width of 16,384, is that ratio).
    /// </summary>
    public double? UpdateWeight { get; init; }
    /// <summary>4, chosen on evals/edits-tune.jsonl (layers 0–1, all at once): perplexity +15.6% → +9.5% against λ = width at clamp 0.75, and room for the larger clamp.</summary>
    public const double DefaultUpdateWeightPerWidth = 4;
    /// <summary>
    /// ‖δ‖ of z* is clamped to this multiple of ‖z‖. MEMIT's is 0.75; 1.25 here, chosen on evals/edits-tune.jsonl (layers 0–1,
    /// λ = 4 × width): efficacy 0.688 → 0.938 (z* at 0.75‖z‖ reached P(new) under 0.1 on most items).
    /// </summary>
    public const double DefaultClampNorm = 1.25;
    public double ClampNorm { get; init; } = DefaultClampNorm;
}

/// <summary>What a MEMIT batch did per layer: the mean norm of the residual it spread there.</summary>
public sealed record MemitEdit(IReadOnlyList<int> Layers, IReadOnlyList<double> ResidualNorms, IReadOnlyList<EditPrompts.DeltaResult> Deltas);

/// <summary>
/// MEMIT: a batch of edits into several MLP output matrices at once. For each request δ is optimised at the residual
/// stream after the last layer (z* = z + δ, the same objective as ROME's v*); then, layer by layer from the first,
/// the remaining residual z* − z (z read from the model edited so far) is divided by the number of layers left and
/// stored with ΔW = (λC + KᵀK)⁻¹Kᵀ R, K the requests' keys (averaged over the templates) and R the residuals.
/// </summary>
public sealed class MemitEditor
{
    private readonly HookedTransformer _model;
    private readonly IReadOnlyDictionary<int, double[,]>? _covariances;

    public EditPrompts Prompts { get; }
    public IReadOnlyList<int> Layers { get; }
    public double UpdateWeight { get; }

    /// <param name="model">The model to edit in place; its MLP output weights must be writable F32.</param>
    /// <param name="covariances">C = E[kkᵀ] per layer; null for an isotropic C (see <see cref="UpdateLayer"/>).</param>
    public MemitEditor(LoadedModel tokens, HookedTransformer model, MemitOptions memit, IReadOnlyDictionary<int, double[,]>? covariances, RomeOptions options)
    {
        if (memit.Layers.Count == 0) throw new ArgumentException("MEMIT needs at least one layer");
        foreach (var layer in memit.Layers)
        {
            RomeEditor.CheckMlpLayer(model, layer);
            if (covariances is not null && !covariances.ContainsKey(layer)) throw new ArgumentException($"no key covariance for layer {layer}");
        }
        UpdateWeight = memit.UpdateWeight ?? MemitOptions.DefaultUpdateWeightPerWidth * model.Config.DMlp;
        if (!(UpdateWeight > 0)) throw new ArgumentException($"MEMIT's λ must be positive, not {UpdateWeight}");
        _model = model;
        _covariances = covariances;
        Layers = memit.Layers.Distinct().Order().ToList();
        Prompts = new EditPrompts(tokens, model, options with { ClampNorm = memit.ClampNorm });
    }

    /// <summary>Edits the model in place with every request at once.</summary>
    public MemitEdit Edit(IReadOnlyList<EditRequest> requests, Action<string, int, int>? progress = null)
    {
        string zHook = HookNames.ResidPost(Layers[^1]);
        var rows = requests.Select(Prompts.Rows).ToList();
        // z* per request and template: the unedited residual there plus the request's δ.
        var targets = new double[requests.Count][][];
        var deltas = new EditPrompts.DeltaResult[requests.Count];
        // One δ per subject: its requests' keys are the same (see EditPrompts.OptimiseDelta), so they need one shared value.
        var subjects = Enumerable.Range(0, requests.Count).GroupBy(i => requests[i].Subject, StringComparer.Ordinal).ToList();
        for (int s = 0; s < subjects.Count; s++)
        {
            progress?.Invoke("optimising z*", s + 1, subjects.Count);
            var group = subjects[s].ToList();
            var optimised = Prompts.OptimiseDelta(group.Select(i => requests[i]).ToList(), group.Select(i => rows[i]).ToList(), zHook);
            for (int g = 0; g < group.Count; g++)
            {
                int i = group[g];
                targets[i] = Prompts.AtSubject(rows[i], [zHook])[zHook].Select(z => z.Select((x, j) => x + optimised[g].Delta[j]).ToArray()).ToArray();
                deltas[i] = optimised[g];
            }
        }
        var residualNorms = new List<double>();
        for (int n = 0; n < Layers.Count; n++)
        {
            int layer = Layers[n];
            progress?.Invoke($"updating layer {layer}", n + 1, Layers.Count);
            string keyHook = HookNames.MlpPost(layer);
            var keys = new List<double[]>();
            var residuals = new List<double[]>();
            var weights = new List<double>();
            for (int i = 0; i < requests.Count; i++)
            {
                var at = Prompts.AtSubject(rows[i], [keyHook, zHook]);
                for (int t = 0; t < rows[i].Count; t++)
                {
                    keys.Add(at[keyHook][t]);
                    residuals.Add(at[zHook][t].Select((x, j) => (targets[i][t][j] - x) / (Layers.Count - n)).ToArray());
                    weights.Add(Prompts.TemplateWeight(t, rows[i].Count) * rows[i].Count);
                }
            }
            residualNorms.Add(residuals.Average(EditPrompts.Norm));
            UpdateLayer(_model.Weights.Blocks[layer].Mlp!.Out, keys.ToArray(), residuals.ToArray(), _covariances?[layer], UpdateWeight, weights.ToArray());
        }
        return new MemitEdit(Layers, residualNorms, deltas);
    }

    /// <summary>
    /// W += (λC + KᵀK)⁻¹Kᵀ R for keys K (rows) and residuals R (rows) of a linear associative memory y = k·W: the least-squares
    /// update that adds rᵢ to kᵢ·W while changing keys distributed as C as little as possible. Keys kᵢ map to kᵢ·W + rᵢ
    /// as λ → 0; a key k with Kᵀ·C⁻¹k = 0 maps as before for every λ.
    /// </summary>
    /// <param name="covariance">C; null for an isotropic C with the batch keys' mean second moment (tr C = mean ‖k‖²), so λ means the same as with a corpus C.</param>
    /// <param name="weights">Per key, its weight wᵢ in the least squares (ΔW = (λC + Σ wᵢkᵢkᵢᵀ)⁻¹ Σ wᵢkᵢrᵢᵀ); null for 1 each.</param>
    public static void UpdateLayer(Linear memory, double[][] keys, double[][] residuals, double[,]? covariance, double lambda, double[]? weights = null)
    {
        int n = memory.InFeatures;
        if (covariance is null)
        {
            covariance = new double[n, n];
            double variance = keys.Average(k => k.Sum(x => x * x)) / n;
            for (int i = 0; i < n; i++) covariance[i, i] = variance;
        }
        weights ??= keys.Select(_ => 1.0).ToArray();
        var factor = RomeEditor.Regularised(covariance, lambda, keys.Select((k, i) => k.Select(x => Math.Sqrt(weights[i]) * x).ToArray()).ToArray());
        var left = keys.Select((k, i) => RankOneUpdate.SolveWithFactor(factor, k).Select(x => weights[i] * x).ToArray()).ToArray();
        RankOneUpdate.AddOuterProducts(memory, left, residuals);
    }
}

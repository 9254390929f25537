using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Saes;

public sealed record FeatureAttributionOptions
{
    /// <summary>Features listed, best first.</summary>
    public int TopK { get; init; } = 10;
    /// <summary>Top features ablated together in the causal check (and the length of its curve).</summary>
    public int VerifyK { get; init; } = 5;
    /// <summary>Tokens each feature's decoder row raises and lowers most (its logit effect).</summary>
    public int LogitEffectTokens { get; init; } = 5;
    /// <summary>
    /// The verified top-k are picked greedily, by actual ablation, from this many features best by the estimate: each pick
    /// the candidate whose ablation together with those already picked removes most (0: the estimate's order as it is).
    /// Attribution patching is first order; features that act together or saturate are mis-ranked by it.
    /// </summary>
    public int RefineCandidates { get; init; } = 20;
    public int Seed { get; init; }
}

/// <summary>One SAE feature's part in the target−foil difference.</summary>
/// <param name="Attribution">Σ over positions of (clean − counterfactual activation) · ∂diff/∂activation: the first-order change in the logit difference when the feature takes its counterfactual values.</param>
/// <param name="Share">Attribution over (clean − counterfactual logit difference).</param>
/// <param name="Position">The position that contributes most to the attribution; <paramref name="Activation"/> and <paramref name="CounterfactualActivation"/> are read there.</param>
/// <param name="Promotes">Tokens the decoder row raises most through the unembedding (W_dec·W_U with the final norm's weight folded in); empty when the hook is not d_model wide.</param>
public sealed record FeatureScore(
    string Hook, int Feature, double Attribution, double Share, int Position, string Token, double Activation, double CounterfactualActivation,
    IReadOnlyList<TokenScore> Promotes, IReadOnlyList<TokenScore> Suppresses)
{
    public string Name => $"{Hook}/{Feature}";
}

/// <summary>
/// The part of one SAE's attribution that its reconstruction misses: the error node x − x̂ scored like a feature.
/// <paramref name="Share"/> = |error| / (|error| + Σ|feature attributions|) of that SAE.
/// </summary>
public sealed record SaeErrorShare(string Hook, double Attribution, double FeatureAttribution, double Share);

/// <summary>What <see cref="FeatureAttribution"/> found for one prediction.</summary>
/// <param name="ActiveFeatures">Features active somewhere on the clean or counterfactual prompt: the pool random sets are drawn from.</param>
/// <param name="MeanAblated">
/// The features mean ablation removes, best first: ranked by the same estimate with each feature's mean over the reference
/// prompts in place of its counterfactual values (a feature that matters by being absent has nothing to lose to its mean).
/// Refined by ablation like <paramref name="ResampleAblated"/>.
/// </param>
/// <param name="ResampleAblated">The features resample ablation removes: the head of <paramref name="Top"/>'s ranking, refined by ablation (<see cref="FeatureAttributionOptions.RefineCandidates"/>).</param>
/// <param name="MeanRemovedByEstimate">What mean-ablating the top-k of the estimate's order alone removes (no refinement).</param>
/// <param name="ResampleRemovedByEstimate">What resample-ablating the top-k of the estimate's order alone removes.</param>
public sealed record FeatureAttributionResult(
    IReadOnlyList<string> Hooks, double LogitDiff, double CounterfactualLogitDiff, int ActiveFeatures,
    IReadOnlyList<FeatureScore> Top, IReadOnlyList<SaeErrorShare> Errors,
    IReadOnlyList<string> MeanAblated, VerificationResult MeanAblation, IReadOnlyList<string> ResampleAblated, VerificationResult ResampleAblation,
    double MeanRemovedByEstimate, double ResampleRemovedByEstimate);

/// <summary>One dataset item's feature attribution, reduced to its causal check and error shares.</summary>
/// <param name="MeanRemoved">Share of the clean difference removed by mean-ablating the item's own top-k features.</param>
/// <param name="ErrorShares">Per SAE, in <see cref="FeatureDatasetResult.Hooks"/> order.</param>
public sealed record FeatureItemResult(
    int Index, string Prompt, string Target, string Foil, string Counterfactual, double LogitDiff, double CounterfactualLogitDiff,
    IReadOnlyList<string> TopFeatures, double MeanRemoved, double MeanRandomRemoved, double ResampleRemoved, double ResampleRandomRemoved,
    double MeanRemovedByEstimate, double ResampleRemovedByEstimate, IReadOnlyList<double> ErrorShares);

/// <summary>
/// <see cref="FeatureAttribution"/> over a dataset. The averages and the shares of items whose own top-k remove at
/// least half of the difference are over the items the model gets right (positive clean difference), which alone
/// have a difference to remove. The averages of what ablation removes are weighted by each item's clean difference
/// (total removed / total difference, as <see cref="DatasetExplainer.Pool"/> does), so an item whose difference is
/// near zero cannot turn them into large percentages; each item's own share is in <see cref="PerItem"/>. The
/// <c>ByEstimate</c> shares are of the top-k by the attribution estimate alone, before the ablation refinement picks
/// the top-k from its first <see cref="FeatureAttributionOptions.RefineCandidates"/>.
/// </summary>
public sealed record FeatureDatasetResult(
    IReadOnlyList<string> Hooks, int Items, int Right, int K,
    double MeanRemoved, double MeanRandomRemoved, double ResampleRemoved, double ResampleRandomRemoved,
    double ItemsMeanHalfRemoved, double ItemsResampleHalfRemoved, double ItemsMeanHalfRemovedByEstimate, double ItemsResampleHalfRemovedByEstimate,
    IReadOnlyList<double> MeanErrorShares,
    IReadOnlyList<FeatureItemResult> PerItem);

/// <summary>
/// Which SAE features decide target vs foil. The SAEs are spliced in with their error terms, so the model computes
/// exactly what it does without them; one taped forward and backward on the clean prompt and one forward on the
/// counterfactual give every feature's (and every error node's) attribution-patching estimate. The top features are
/// then checked causally: ablated together (to their mean over reference prompts, or to their counterfactual values)
/// beside random sets of as many features drawn from those active on the prompts.
/// </summary>
public static class FeatureAttribution
{
    public static FeatureAttributionResult Run(LoadedModel loaded, ExplainRequest request, IReadOnlyList<Sae> saes,
        FeatureAttributionOptions? options = null, IReadOnlyList<string>? referencePrompts = null)
    {
        var prediction = Prediction.Prepare(loaded, request);
        var reference = (referencePrompts ?? ExplainOptions.DefaultReferencePrompts).Select(p => Continuations.EncodePrompt(loaded, p, "reference prompt")).ToList();
        return Run(loaded.Model, loaded.Tokenizer, saes, prediction.Ids, prediction.CounterfactualIds, reference, prediction.Readout, options);
    }

    /// <summary>Every item's own attribution and causal check.</summary>
    /// <param name="progress">Called with (items done, items in all).</param>
    public static FeatureDatasetResult RunDataset(LoadedModel loaded, IReadOnlyList<ScoreItem> items, IReadOnlyList<Sae> saes,
        FeatureAttributionOptions? options = null, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        if (items.Count == 0) throw new ArgumentException("the dataset has no items");
        options ??= new FeatureAttributionOptions();
        // Only the top-k's names are kept per item: no longer list, no logit effects.
        options = options with { TopK = options.VerifyK, LogitEffectTokens = 0 };
        var reference = ExplainOptions.DefaultReferencePrompts.Select(p => Continuations.EncodePrompt(loaded, p, "reference prompt")).ToList();
        var perItem = new List<FeatureItemResult>();
        for (int i = 0; i < items.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var item = items[i];
            var prediction = Prediction.Prepare(loaded, new ExplainRequest(item.Prompt, item.Target, item.Foil, item.Counterfactual));
            var r = Run(loaded.Model, loaded.Tokenizer, saes, prediction.Ids, prediction.CounterfactualIds, reference, prediction.Readout, options with { Seed = i });
            perItem.Add(new FeatureItemResult(i, item.Prompt, item.Target, item.Foil, prediction.Counterfactual, r.LogitDiff, r.CounterfactualLogitDiff,
                r.ResampleAblated, r.MeanAblation.TopKFractionRemoved, r.MeanAblation.RandomKFractionRemoved,
                r.ResampleAblation.TopKFractionRemoved, r.ResampleAblation.RandomKFractionRemoved, r.MeanRemovedByEstimate, r.ResampleRemovedByEstimate,
                r.Errors.Select(e => e.Share).ToList()));
            progress?.Invoke(i + 1, items.Count);
        }
        var right = perItem.Where(r => r.LogitDiff > 0).ToList();
        double total = right.Sum(r => r.LogitDiff);
        double Removed(Func<FeatureItemResult, double> share) => right.Count > 0 ? right.Sum(r => share(r) * r.LogitDiff) / total : double.NaN;
        double ItemsAtHalf(Func<FeatureItemResult, double> share) => right.Count > 0 ? right.Average(r => share(r) >= 0.5 ? 1 : 0) : double.NaN;
        return new FeatureDatasetResult(saes.Select(s => s.Metadata.HookName).ToList(), perItem.Count, right.Count, options.VerifyK,
            Removed(r => r.MeanRemoved), Removed(r => r.MeanRandomRemoved), Removed(r => r.ResampleRemoved), Removed(r => r.ResampleRandomRemoved),
            ItemsAtHalf(r => r.MeanRemoved), ItemsAtHalf(r => r.ResampleRemoved),
            ItemsAtHalf(r => r.MeanRemovedByEstimate), ItemsAtHalf(r => r.ResampleRemovedByEstimate),
            Enumerable.Range(0, saes.Count).Select(s => perItem.Average(r => r.ErrorShares[s])).ToList(), perItem);
    }

    public static FeatureAttributionResult Run(HookedTransformer model, ITokenizer tokenizer, IReadOnlyList<Sae> saes, int[] clean, int[] counterfactual,
        IReadOnlyList<int[]> reference, LogitDiffReadout readout, FeatureAttributionOptions? options = null)
    {
        options ??= new FeatureAttributionOptions();
        ActivationPatching.CheckLengths(clean, counterfactual);
        if (saes.Count == 0) throw new ArgumentException("feature attribution needs at least one SAE");
        if (saes.GroupBy(s => s.Metadata.HookName).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"two SAEs read hook '{twice.Key}'; give one SAE per hook");
        if (reference.Count == 0) throw new ArgumentException("mean ablation needs at least one reference prompt");
        if (options.TopK < 1 || options.VerifyK < 1) throw new ArgumentOutOfRangeException(nameof(options), "TopK and VerifyK must be at least 1");
        if (options.RefineCandidates < 0) throw new ArgumentOutOfRangeException(nameof(options), "RefineCandidates must be ≥ 0 (0: no refinement)");

        // Clean run on a tape: every feature and error node is differentiated.
        var tape = new Tape();
        var cx = new Compute(tape);
        var taped = Spliced(saes, cx, NodeNames(saes));
        foreach (var name in NodeNames(saes))
            taped.Add(name, (t, _) =>
            {
                t.RequiresGrad = true;
                return null;
            });
        var logits = model.Forward(cx, TokenBatch.Single(clean), taped, lastPositionOnly: true);
        AttributionPatching.BackwardLogitDiff(tape, logits, readout);
        double cleanDiff = readout.FromLogits(logits);
        var (cfLogits, cf) = RunSpliced(model, saes, counterfactual);
        double cfDiff = readout.FromLogits(cfLogits);
        double span = cleanDiff - cfDiff;

        var all = new List<(int Sae, int Feature, double Attribution)>();
        var active = new List<(int Sae, int Feature)>();
        var errors = new List<SaeErrorShare>();
        var cleanActs = new float[saes.Count][];
        var cfActs = new float[saes.Count][];
        var grads = new float[saes.Count][];
        for (int s = 0; s < saes.Count; s++)
        {
            var sae = saes[s];
            var actsName = SaeSplice.HookName(sae, SaeSplice.ActsPost);
            var errorName = SaeSplice.HookName(sae, SaeSplice.Error);
            cleanActs[s] = taped.Cache[actsName].ToArray();
            cfActs[s] = cf[actsName].ToArray();
            grads[s] = Gradient(taped.Cache[actsName]);
            var attribution = Moved(cleanActs[s], cfActs[s], grads[s], sae.DSae);
            double errorAttribution = Moved(taped.Cache[errorName].ToArray(), cf[errorName].ToArray(), Gradient(taped.Cache[errorName]), 1)[0];
            double featureMass = 0, featureSum = 0;
            for (int j = 0; j < sae.DSae; j++)
            {
                all.Add((s, j, attribution[j]));
                featureMass += Math.Abs(attribution[j]);
                featureSum += attribution[j];
                if (EverActive(cleanActs[s], j, sae.DSae) || EverActive(cfActs[s], j, sae.DSae)) active.Add((s, j));
            }
            double mass = featureMass + Math.Abs(errorAttribution);
            errors.Add(new SaeErrorShare(sae.Metadata.HookName, errorAttribution, featureSum, mass > 0 ? Math.Abs(errorAttribution) / mass : 0));
        }

        var ranked = all.OrderByDescending(a => a.Attribution).ThenBy(a => a.Sae).ThenBy(a => a.Feature).ToList();
        var top = ranked.Take(options.TopK).Select(a =>
        {
            var sae = saes[a.Sae];
            int position = PeakPosition(cleanActs[a.Sae], cfActs[a.Sae], grads[a.Sae], a.Feature, sae.DSae);
            var row = sae.DecoderRow(a.Feature).ToArray();
            bool readable = sae.DIn == model.Config.DModel && options.LogitEffectTokens > 0;
            return new FeatureScore(sae.Metadata.HookName, a.Feature, a.Attribution, Math.Abs(span) < 1e-12 ? 0 : a.Attribution / span,
                position, tokenizer.TokenText(clean[position]),
                cleanActs[a.Sae][position * sae.DSae + a.Feature], cfActs[a.Sae][position * sae.DSae + a.Feature],
                readable ? Mechanisms.TopTokens(model, tokenizer, row, options.LogitEffectTokens, descending: true) : [],
                readable ? Mechanisms.TopTokens(model, tokenizer, row, options.LogitEffectTokens, descending: false) : []);
        }).ToList();

        var means = MeanActivations(model, saes, reference);
        var towardsMean = new List<(int Sae, int Feature, double Attribution)>();
        for (int s = 0; s < saes.Count; s++)
        {
            int width = saes[s].DSae, rows = cleanActs[s].Length / width;
            var estimate = Moved(cleanActs[s], Enumerable.Range(0, rows * width).Select(i => (float)means[s][i % width]).ToArray(), grads[s], width);
            towardsMean.AddRange(estimate.Select((v, j) => (s, j, v)));
        }
        var resampleEstimate = ranked.Select(a => (a.Sae, a.Feature)).ToList();
        var meanEstimate = towardsMean.OrderByDescending(a => a.Attribution).ThenBy(a => a.Sae).ThenBy(a => a.Feature).Select(a => (a.Sae, a.Feature)).ToList();
        var ablation = new Ablation(model, saes, clean, readout, cleanDiff, active, options.Seed);
        Replacement toMean = (s, j, _) => means[s][j], toCounterfactual = (s, j, t) => cfActs[s][t * saes[s].DSae + j];
        var meanOrder = ablation.Refine(meanEstimate, options.RefineCandidates, options.VerifyK, toMean);
        var resampleOrder = ablation.Refine(resampleEstimate, options.RefineCandidates, options.VerifyK, toCounterfactual);
        var mean = ablation.Verify(meanOrder, options.VerifyK, AblationKind.Mean, toMean);
        var resample = ablation.Verify(resampleOrder, options.VerifyK, AblationKind.Resample, toCounterfactual);
        double meanByEstimate = ablation.Removed(meanEstimate.Take(mean.K), toMean), resampleByEstimate = ablation.Removed(resampleEstimate.Take(resample.K), toCounterfactual);
        List<string> Names(IEnumerable<(int Sae, int Feature)> order, int k) => order.Take(k).Select(f => $"{saes[f.Sae].Metadata.HookName}/{f.Feature}").ToList();
        return new FeatureAttributionResult(saes.Select(s => s.Metadata.HookName).ToList(), cleanDiff, cfDiff, active.Count, top, errors,
            Names(meanOrder, mean.K), mean, Names(resampleOrder, resample.K), resample, meanByEstimate, resampleByEstimate);
    }

    private static List<string> NodeNames(IReadOnlyList<Sae> saes) =>
        saes.SelectMany(s => new[] { SaeSplice.HookName(s, SaeSplice.ActsPost), SaeSplice.HookName(s, SaeSplice.Error) }).ToList();

    /// <summary>Hooks with every SAE spliced in, error terms kept (the model's output is unchanged), caching <paramref name="cached"/>.</summary>
    private static HookSet Spliced(IReadOnlyList<Sae> saes, Compute cx, IReadOnlyCollection<string>? cached = null, Action<HookSet>? interventions = null)
    {
        var names = cached?.ToHashSet(StringComparer.Ordinal);
        var hooks = new HookSet(names is null ? null : names.Contains);
        interventions?.Invoke(hooks);
        foreach (var sae in saes) hooks.Splice(sae, cx, keepError: true);
        return hooks;
    }

    private static (Tensor Logits, ActivationCache Cache) RunSpliced(HookedTransformer model, IReadOnlyList<Sae> saes, int[] ids)
    {
        var hooks = Spliced(saes, Compute.Eager, NodeNames(saes));
        var logits = model.Forward(Compute.Eager, TokenBatch.Single(ids), hooks, lastPositionOnly: true);
        return (logits, hooks.Cache);
    }

    /// <summary>Σ over rows of (clean − counterfactual) · gradient per column, for values laid out [rows, width]; one sum when width is 1 (the error node: everything).</summary>
    private static double[] Moved(float[] clean, float[] counterfactual, float[] g, int width)
    {
        var sums = new double[width];
        for (int i = 0; i < clean.Length; i++) sums[width == 1 ? 0 : i % width] += (clean[i] - (double)counterfactual[i]) * g[i];
        return sums;
    }

    private static bool EverActive(float[] acts, int feature, int width)
    {
        for (int i = feature; i < acts.Length; i += width) if (acts[i] != 0) return true;
        return false;
    }

    /// <summary>∂diff/∂activation of a differentiated node (zeros where the difference does not depend on it).</summary>
    private static float[] Gradient(Tensor node) => node.Grad?.ToArray() ?? new float[node.Size];

    /// <summary>The position whose (clean − counterfactual) · gradient term is largest in magnitude.</summary>
    private static int PeakPosition(float[] clean, float[] counterfactual, float[] grad, int feature, int width)
    {
        int best = 0;
        double bestTerm = -1;
        for (int t = 0, i = feature; i < clean.Length; t++, i += width)
        {
            double term = Math.Abs((clean[i] - (double)counterfactual[i]) * grad[i]);
            if (term > bestTerm) (best, bestTerm) = (t, term);
        }
        return best;
    }

    /// <summary>Each feature's mean activation over every position of the reference prompts.</summary>
    private static double[][] MeanActivations(HookedTransformer model, IReadOnlyList<Sae> saes, IReadOnlyList<int[]> reference)
    {
        var sums = saes.Select(s => new double[s.DSae]).ToArray();
        long rows = 0;
        foreach (var ids in reference)
        {
            var (_, cache) = RunSpliced(model, saes, ids);
            rows += ids.Length;
            for (int s = 0; s < saes.Count; s++)
            {
                var acts = cache[SaeSplice.HookName(saes[s], SaeSplice.ActsPost)].Contiguous().Span;
                for (int i = 0; i < acts.Length; i++) sums[s][i % saes[s].DSae] += acts[i];
            }
        }
        foreach (var sum in sums) for (int j = 0; j < sum.Length; j++) sum[j] /= rows;
        return sums;
    }

    /// <summary>The value an ablated feature takes: (SAE, feature, position) → activation.</summary>
    private delegate double Replacement(int sae, int feature, int position);

    /// <summary>Runs the clean prompt with sets of features replaced and measures the share of the logit difference removed.</summary>
    private sealed class Ablation(HookedTransformer model, IReadOnlyList<Sae> saes, int[] clean, LogitDiffReadout readout, double cleanDiff,
        IReadOnlyList<(int Sae, int Feature)> active, int seed)
    {
        public VerificationResult Verify(IReadOnlyList<(int Sae, int Feature)> ranked, int k, AblationKind kind, Replacement replacement)
        {
            k = Math.Min(k, ranked.Count);
            var random = new Random(seed);
            var curve = new List<double>();
            var randomCurve = new List<double>();
            for (int n = 1; n <= k; n++)
            {
                curve.Add(Removed(ranked.Take(n), replacement));
                double sum = 0;
                for (int draw = 0; draw < Verification.RandomDraws; draw++)
                    sum += Removed(active.OrderBy(_ => random.Next()).Take(n), replacement);
                randomCurve.Add(sum / Verification.RandomDraws);
            }
            return new VerificationResult(kind, k, k > 0 ? curve[^1] : 0, k > 0 ? randomCurve[^1] : 0, curve, randomCurve);
        }

        /// <summary>
        /// <paramref name="ranked"/> with its head replaced by up to <paramref name="k"/> features picked greedily from its first
        /// <paramref name="candidates"/>: each the one whose ablation together with those already picked removes most.
        /// </summary>
        public IReadOnlyList<(int Sae, int Feature)> Refine(IReadOnlyList<(int Sae, int Feature)> ranked, int candidates, int k, Replacement replacement)
        {
            var pool = ranked.Take(candidates).ToList();
            var picked = new List<(int Sae, int Feature)>();
            while (picked.Count < k && pool.Count > 0)
            {
                int best = 0;
                double bestRemoved = double.NegativeInfinity;
                for (int i = 0; i < pool.Count; i++)
                {
                    double removed = Removed(picked.Append(pool[i]), replacement);
                    if (removed > bestRemoved) (best, bestRemoved) = (i, removed);
                }
                picked.Add(pool[best]);
                pool.RemoveAt(best);
            }
            var chosen = picked.ToHashSet();
            return [.. picked, .. ranked.Where(f => !chosen.Contains(f))];
        }

        public double Removed(IEnumerable<(int Sae, int Feature)> set, Replacement replacement)
        {
            var bySae = set.GroupBy(f => f.Sae).ToDictionary(g => g.Key, g => g.Select(f => f.Feature).ToArray());
            var hooks = Spliced(saes, Compute.Eager, interventions: h =>
            {
                foreach (var (s, features) in bySae)
                {
                    int width = saes[s].DSae;
                    h.Add(SaeSplice.HookName(saes[s], SaeSplice.ActsPost), (acts, _) =>
                    {
                        var values = acts.Contiguous().Span.ToArray();
                        for (int t = 0; t < values.Length / width; t++)
                            foreach (int j in features) values[t * width + j] = (float)replacement(s, j, t);
                        return Tensor.FromArray(values, acts.Shape.ToArray());
                    });
                }
            });
            double ablated = readout.FromLogits(model.Forward(Compute.Eager, TokenBatch.Single(clean), hooks, lastPositionOnly: true));
            return Math.Abs(cleanDiff) < 1e-12 ? 0 : (cleanDiff - ablated) / cleanDiff;
        }
    }
}

using System.Text.Json.Serialization;
using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>A mean and the half-width of its 95% confidence interval.</summary>
public readonly record struct Interval(double Mean, [property: JsonPropertyName("ci95")] double HalfWidth95)
{
    public static Interval Of(IReadOnlyList<double> values)
    {
        var (mean, half) = Statistics.MeanWithInterval(values);
        return new Interval(mean, half);
    }

    [JsonIgnore] public bool ExcludesZero => Math.Abs(Mean) > HalfWidth95;
}

/// <summary>How a component behaves across a dataset.</summary>
public enum Consistency
{
    /// <summary>Moves the difference the same way on average: the 95% interval excludes 0 and the mean is a visible share of the effect.</summary>
    Consistent,
    /// <summary>Not consistent, but alone carries a large share of the effect in some items (listed).</summary>
    ItemSpecific,
    /// <summary>Neither.</summary>
    Negligible,
}

/// <summary>One item's value for a component, in the metric's units and as a share of that item's clean − counterfactual effect.</summary>
public sealed record ItemValue(int Item, double Value, double Share);

/// <summary>
/// A component across the dataset, in the metric's units (direct logit attribution in logits): its effect (activation patching, clean into
/// counterfactual, for heads and MLPs; the attribution-patching estimate for single neurons, which are too many to
/// patch one by one), direct logit attribution, and the attribution-patching estimate.
/// </summary>
/// <param name="Share">Mean effect over the mean clean − counterfactual effect.</param>
/// <param name="StrongIn">Items where the component alone moves at least <see cref="DatasetExplainer.StrongShare"/> of that item's effect.</param>
public sealed record ComponentSummary(
    Component Component, Interval Effect, double Share, [property: JsonPropertyName("direct")] Interval? DirectAttribution, Interval Estimate,
    [property: JsonConverter(typeof(SnakeCaseEnumJson<Consistency>))] Consistency Consistency, IReadOnlyList<ItemValue> StrongIn);

/// <param name="MetricValue">The metric on the prompt (equal to <paramref name="LogitDiff"/> under logit_diff), in the report's <see cref="DatasetExplainReport.Unit"/>.</param>
/// <param name="MeanAblationRemoved">Share of this item's difference removed by mean-ablating the verified set (resample beside it).</param>
/// <param name="OwnTopK">This item's own top-k heads and neurons, found as for a single prediction.</param>
/// <param name="OwnResampleRemoved">Share of this item's difference removed by resample-ablating its own top-k.</param>
public sealed record DatasetItemResult(
    int Index, string Source, string Prompt, string Target, string Foil, string Counterfactual, string CounterfactualOrigin,
    double LogitDiff, double CounterfactualLogitDiff, double MetricValue, double CounterfactualMetricValue, double Spearman, string TopComponent,
    double MeanAblationRemoved, double ResampleAblationRemoved, IReadOnlyList<Component> OwnTopK, double OwnResampleRemoved);


/// <summary>
/// The dataset-level causal check: the same top-k components ablated in every item. Fractions are of the clean
/// difference summed over the items the model gets right (total removed / total difference), so items with a
/// difference near 0 cannot dominate; the mean of per-item fractions is given beside it.
/// </summary>
public sealed record DatasetVerification(
    [property: JsonIgnore] AblationKind Kind, int K, int Items, double TopKFractionRemoved, double RandomKFractionRemoved,
    IReadOnlyList<double> Curve, IReadOnlyList<double> RandomCurve, double MeanItemFraction, double MeanItemRandomFraction);

public sealed record LensSummary(string Stage, Interval LogitDiff);

/// <summary>Rank agreement of attribution with activation patching: per item (mean ± 95% CI), and over the dataset means.</summary>
public sealed record SpearmanSummary(Interval ItemMean, double Pooled);

/// <summary>The set ablated in every item; the top-level fractions are resample ablation's, mean ablation beside it.</summary>
public sealed record DatasetVerificationSummary(
    int K, IReadOnlyList<Component> Components, double TopKFractionRemoved, double RandomKFractionRemoved, IReadOnlyList<double> Curve,
    IReadOnlyList<double> RandomCurve, DatasetVerification Mean, DatasetVerification Resample);

/// <summary>Each item's own top-k (as a single explanation finds it) ablated in that item.</summary>
public sealed record OwnTopKSummary(int K, DatasetVerification Mean, DatasetVerification Resample);

/// <summary>
/// Everything <see cref="DatasetExplainer.Explain"/> measured over a dataset, and the JSON contract of
/// <c>pinpoint explain --dataset --json</c> and the web API (serialized by <see cref="Reports.ReportJson"/>).
/// Optional sections are nullable init properties, left out of the JSON when null.
/// </summary>
public sealed record DatasetExplainReport
{
    /// <summary>The dataset's name or path, as the caller gave it.</summary>
    public string Dataset { get; init; } = "";
    /// <summary>What patching, attribution and ablation measure ("logit_diff", "logprob", "prob", "kl"): every effect, share and estimate is of it.</summary>
    public string Metric { get; init; } = "logit_diff";
    /// <summary>The metric's unit ("logits", "nats", "probability"); logit lens and direct attribution stay in logits.</summary>
    public string Unit { get; init; } = "logits";
    [JsonPropertyName("items")] public required int ItemCount { get; init; }
    /// <summary>Items where the target wins.</summary>
    public required int Correct { get; init; }
    public required Interval LogitDiff { get; init; }
    /// <summary>Clean − counterfactual difference of the metric.</summary>
    public required Interval Effect { get; init; }
    [JsonIgnore] public required Interval ItemSpearman { get; init; }
    [JsonIgnore] public required double PooledSpearman { get; init; }
    public SpearmanSummary Spearman => new(ItemSpearman, PooledSpearman);

    /// <summary>The top-k heads and single neurons by mean removal (noising patching for heads, its estimate for neurons), ablated in every item.</summary>
    [JsonIgnore] public required IReadOnlyList<Component> Verified { get; init; }
    [JsonIgnore] public required DatasetVerification MeanAblation { get; init; }
    [JsonIgnore] public required DatasetVerification ResampleAblation { get; init; }
    /// <summary>Each item's own top-k ablated in that item; resample beside it.</summary>
    [JsonIgnore] public required DatasetVerification OwnMeanAblation { get; init; }
    [JsonIgnore] public required DatasetVerification OwnResampleAblation { get; init; }
    public DatasetVerificationSummary Verification => new(ResampleAblation.K, Verified, ResampleAblation.TopKFractionRemoved,
        ResampleAblation.RandomKFractionRemoved, ResampleAblation.Curve, ResampleAblation.RandomCurve, MeanAblation, ResampleAblation);
    [JsonPropertyName("own_top_k")] public OwnTopKSummary OwnTopK => new(OwnResampleAblation.K, OwnMeanAblation, OwnResampleAblation);

    public required IReadOnlyList<LensSummary> LogitLens { get; init; }
    public required IReadOnlyList<ComponentSummary> Components { get; init; }
    public required IReadOnlyList<ComponentSummary> Neurons { get; init; }
    [JsonPropertyName("item_results")] public required IReadOnlyList<DatasetItemResult> Items { get; init; }

    /// <summary>Full path of the HTML report, when a front end wrote one.</summary>
    public string? Html { get; init; }

    // Optional sections go below as nullable init properties: null leaves them out of the JSON.
}

/// <summary>
/// Every method over a dataset of predictions: per-component means with 95% intervals, which components matter
/// consistently and which only in some items, and the causal check of one top-k set across all items.
/// </summary>
public static class DatasetExplainer
{
    /// <summary>Share of an item's effect that makes a single component "strong" in that item.</summary>
    public const double StrongShare = 0.25;
    /// <summary>Items whose clean − counterfactual effect is smaller than this (logits) cannot make a component strong: shares of nothing are noise.</summary>
    public const double MinItemEffect = 0.1;
    /// <summary>Mean share of the effect above which a significant component counts as consistent.</summary>
    public const double ConsistentShare = 0.05;

    /// <summary>Reported neurons (ranked by |mean estimate|).</summary>
    public const int NeuronCount = 20;

    public static IReadOnlyList<ExplainRequest> Requests(IEnumerable<ScoreItem> items) =>
        items.Select(i => new ExplainRequest(i.Prompt, i.Target, i.Foil, i.Counterfactual)).ToList();

    /// <param name="progress">Called with (phase, items done, items in all).</param>
    /// <param name="cancel">Checked before each item's work; a cancelled call throws <see cref="OperationCanceledException"/>.</param>
    /// <param name="metric">What each item's patching, attribution and ablation measure (teacher-forced over the whole target for log-probability, probability and KL).</param>
    public static DatasetExplainReport Explain(LoadedModel loaded, IReadOnlyList<ScoreItem> items, ExplainOptions? options = null,
        Action<string, int, int>? progress = null, CancellationToken cancel = default, MetricKind metric = MetricKind.LogitDiff)
    {
        if (items.Count == 0) throw new ArgumentException("the dataset has no items");
        options ??= new ExplainOptions();
        options.Check(loaded.Model.Config);
        var model = loaded.Model;
        var analyses = new List<ItemAnalysis>();
        for (int i = 0; i < items.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            analyses.Add(Analyze(loaded, items[i], i, options.VerifyK, metric));
            progress?.Invoke("patching", i + 1, items.Count);
        }

        var components = Summaries(analyses, a => a.Patching, a => a.Estimate, a => a.Direct, Explainer.Ranking(model.Config, analyses[0].Denoise).Select(x => x.Component));
        var neuronMeans = analyses[0].Neurons.Keys.Select(n => new Attribution(n, analyses.Average(a => a.Neurons[n]))).ToList();
        var neuronIds = neuronMeans.OrderByDescending(n => Math.Abs(n.Value)).Take(NeuronCount).Select(n => n.Component).ToList();
        var neurons = Summaries(analyses, a => a.Neurons, a => a.Neurons, _ => null, neuronIds);
        // Heads and single neurons, as for one prediction (with a handful of MLP layers, a "random" set of MLPs is nearly
        // the top set itself), ranked by what knocking each out removes on average.
        Attribution MeanRemoval(Component c, Func<ItemAnalysis, Dictionary<Component, double>> removal) => new(c, analyses.Average(a => removal(a)[c]));
        var verified = Explainer.VerificationSet(
            analyses[0].Removal.Keys.Select(c => MeanRemoval(c, a => a.Removal)),
            analyses[0].NeuronRemoval.Keys.Select(n => MeanRemoval(n, a => a.NeuronRemoval)), options.VerifyK);
        var reference = options.ReferencePrompts.Select(p => Continuations.EncodePrompt(loaded, p, "reference prompt")).ToList();
        var (mean, resample, ownMean, ownResample) = (new List<VerificationResult>(), new List<VerificationResult>(), new List<VerificationResult>(), new List<VerificationResult>());
        for (int i = 0; i < analyses.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var p = analyses[i].Prediction;
            VerificationResult Check(IReadOnlyList<Component> set, AblationKind kind) =>
                Verification.Run(model, p.Run, p.CounterfactualRun, reference, p.Metric, set, options.VerifyK, kind, seed: i);
            mean.Add(Check(verified, AblationKind.Mean));
            resample.Add(Check(verified, AblationKind.Resample));
            ownMean.Add(Check(analyses[i].OwnTopK, AblationKind.Mean));
            ownResample.Add(Check(analyses[i].OwnTopK, AblationKind.Resample));
            progress?.Invoke("ablation", i + 1, analyses.Count);
        }

        var spearmans = analyses.Select(a => a.Spearman).Where(double.IsFinite).ToList();
        var pooledExact = components.Select(c => c.Effect.Mean).ToList();
        var pooledEstimate = components.Select(c => c.Estimate.Mean).ToList();
        var lens = analyses[0].Lens.Select((point, l) => new LensSummary(point.Stage, Interval.Of(analyses.Select(a => a.Lens[l].LogitDiff).ToList()))).ToList();
        var itemResults = analyses.Select((a, i) => new DatasetItemResult(
            i, a.Source, items[i].Prompt, items[i].Target, items[i].Foil, a.Prediction.Counterfactual, a.Prediction.CounterfactualOrigin,
            a.Clean, a.CounterfactualLogitDiff, a.Denoise.CleanDiff, a.Denoise.CounterfactualDiff, a.Spearman, a.Patching.MaxBy(kv => kv.Value).Key.Name,
            mean[i].TopKFractionRemoved, resample[i].TopKFractionRemoved, a.OwnTopK, ownResample[i].TopKFractionRemoved)).ToList();

        return new DatasetExplainReport
        {
            Metric = analyses[0].Prediction.Metric.Name, Unit = analyses[0].Prediction.Metric.Unit,
            ItemCount = items.Count, Correct = analyses.Count(a => a.Clean > 0), LogitDiff = Interval.Of(analyses.Select(a => a.Clean).ToList()),
            Effect = Interval.Of(analyses.Select(a => a.Effect).ToList()), LogitLens = lens, Components = components, Neurons = neurons,
            ItemSpearman = spearmans.Count > 0 ? Interval.Of(spearmans) : new Interval(double.NaN, 0), PooledSpearman = Statistics.Spearman(pooledExact, pooledEstimate),
            Verified = verified, MeanAblation = Aggregate(AblationKind.Mean, analyses, mean), ResampleAblation = Aggregate(AblationKind.Resample, analyses, resample),
            OwnMeanAblation = Aggregate(AblationKind.Mean, analyses, ownMean), OwnResampleAblation = Aggregate(AblationKind.Resample, analyses, ownResample),
            Items = itemResults,
        };
    }

    /// <summary>One item's values: the clean and counterfactual logit differences, every component in the metric's units.</summary>
    private sealed record ItemAnalysis(
        string Source, Prediction Prediction, double Clean, double CounterfactualLogitDiff, IReadOnlyList<LensPoint> Lens, PatchingResult Denoise,
        Dictionary<Component, double> Patching, Dictionary<Component, double> Estimate, Dictionary<Component, double> Direct,
        Dictionary<Component, double> Neurons, double Spearman,
        Dictionary<Component, double> Removal, Dictionary<Component, double> NeuronRemoval, IReadOnlyList<Component> OwnTopK)
    {
        public double Effect => Denoise.CleanDiff - Denoise.CounterfactualDiff;
    }

    private static ItemAnalysis Analyze(LoadedModel loaded, ScoreItem item, int index, int verifyK, MetricKind metricKind)
    {
        var model = loaded.Model;
        string source = item.Source ?? $"item {index}";
        Prediction prediction;
        try
        {
            prediction = Prediction.Prepare(loaded, new ExplainRequest(item.Prompt, item.Target, item.Foil, item.Counterfactual) { Metric = metricKind });
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{source}: {e.Message}", e);
        }
        var (ids, _, _, readout, cfIds, _, _) = prediction;
        var metric = prediction.Metric;
        var (clean, lens, dla, _) = Explainer.CleanRun(model, prediction.AnswerIds, readout, []);
        var denoise = ActivationPatching.Run(model, ids, cfIds, metric, PatchDirection.Denoise);
        var estimate = AttributionPatching.Run(model, ids, cfIds, metric, PatchDirection.Denoise);
        // Shares of this item's effect back to logit units, so items with tiny effects do not dominate the means.
        double effect = denoise.CleanDiff - denoise.CounterfactualDiff;
        Dictionary<Component, double> Units(IEnumerable<Attribution> shares) => shares.ToDictionary(a => a.Component, a => a.Value * effect);
        // What knocking each component out of the clean run removes (noising direction): the ranking the causal check uses.
        // Only heads and MLPs are ranked: the residual × position grid would cost a forward per cell and be thrown away.
        var removal = Explainer.Ranking(model.Config, ActivationPatching.Run(model, ids, cfIds, metric, PatchDirection.Noise, PatchingCells.Outputs | PatchingCells.Heads));
        var noiseEstimate = AttributionPatching.Run(model, ids, cfIds, metric, PatchDirection.Noise);
        var neuronRemoval = Explainer.NeuronRanking(noiseEstimate);
        // Under logit_diff the counterfactual run's metric is its difference; otherwise it takes one forward of its own.
        double cfLogitDiff = metricKind == MetricKind.LogitDiff ? denoise.CounterfactualDiff
            : readout.FromLogits(model.Forward(Compute.Eager, TokenBatch.Single(prediction.CounterfactualAnswerIds), lastPositionOnly: true));
        return new ItemAnalysis(source, prediction, clean, cfLogitDiff, lens, denoise,
            Units(Explainer.Ranking(model.Config, denoise)), Units(Explainer.Ranking(model.Config, estimate)),
            dla.Components.ToDictionary(a => a.Component, a => a.Value),
            Units(Explainer.NeuronRanking(estimate)), Explainer.Agreement(denoise, estimate),
            Units(removal), Units(neuronRemoval), Explainer.VerificationSet(removal, Explainer.NeuronRemovalRanking(model, ids, cfIds, metric, noiseEstimate, verifyK), verifyK));
    }

    private static List<ComponentSummary> Summaries(List<ItemAnalysis> analyses, Func<ItemAnalysis, Dictionary<Component, double>> exact,
        Func<ItemAnalysis, Dictionary<Component, double>> estimate, Func<ItemAnalysis, Dictionary<Component, double>?> direct,
        IEnumerable<Component> components)
    {
        double meanEffect = analyses.Average(a => a.Effect);
        return components.Select(c =>
        {
            var values = analyses.Select(a => exact(a)[c]).ToList();
            var effect = Interval.Of(values);
            double share = Math.Abs(meanEffect) < 1e-12 ? 0 : effect.Mean / meanEffect;
            var strong = analyses.Select((a, i) => new ItemValue(i, values[i], Math.Abs(a.Effect) < 1e-12 ? 0 : values[i] / a.Effect))
                .Where(v => Math.Abs(analyses[v.Item].Effect) >= MinItemEffect && Math.Abs(v.Share) >= StrongShare)
                .OrderByDescending(v => Math.Abs(v.Share)).ToList();
            var consistency = effect.ExcludesZero && Math.Abs(share) >= ConsistentShare ? Consistency.Consistent
                : strong.Count > 0 ? Consistency.ItemSpecific : Consistency.Negligible;
            var dla = direct(analyses[0]) is null ? (Interval?)null : Interval.Of(analyses.Select(a => direct(a)![c]).ToList());
            return new ComponentSummary(c, effect, share, dla, Interval.Of(analyses.Select(a => estimate(a)[c]).ToList()), consistency, strong);
        }).OrderByDescending(s => s.Effect.Mean).ToList();
    }

    private static DatasetVerification Aggregate(AblationKind kind, List<ItemAnalysis> analyses, List<VerificationResult> results) =>
        Pool(kind, analyses.Select(a => a.Clean).ToList(), results);

    /// <summary>
    /// Per-item ablation results pooled over the items whose clean difference is positive (the model gets them right),
    /// weighted by that difference.
    /// </summary>
    public static DatasetVerification Pool(AblationKind kind, IReadOnlyList<double> cleanDiffs, IReadOnlyList<VerificationResult> results)
    {
        int k = results[0].K;
        // Only items the model gets right have a difference to remove; their clean differences weight the totals.
        var right = Enumerable.Range(0, cleanDiffs.Count).Where(i => cleanDiffs[i] > 0).ToList();
        double total = right.Sum(i => cleanDiffs[i]);
        double Pooled(Func<VerificationResult, IReadOnlyList<double>> curve, int n) =>
            total <= 0 ? 0 : right.Sum(i => curve(results[i])[n] * cleanDiffs[i]) / total;
        var curve = Enumerable.Range(0, k).Select(n => Pooled(r => r.Curve, n)).ToList();
        var randomCurve = Enumerable.Range(0, k).Select(n => Pooled(r => r.RandomCurve, n)).ToList();
        return new DatasetVerification(kind, k, right.Count, k > 0 ? curve[^1] : 0, k > 0 ? randomCurve[^1] : 0, curve, randomCurve,
            right.Count > 0 ? right.Average(i => results[i].TopKFractionRemoved) : 0,
            right.Count > 0 ? right.Average(i => results[i].RandomKFractionRemoved) : 0);
    }
}

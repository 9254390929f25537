using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Dashboards;
using System.Text.Json.Serialization;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>One prediction to explain: the prompt, the token it should predict (target) and the alternative (foil).</summary>
/// <param name="Counterfactual">A prompt of the same token length where the answer changes; built automatically when null.</param>
public sealed record ExplainRequest(string Prompt, string Target, string Foil, string? Counterfactual = null)
{
    /// <summary>
    /// The built-in article example: Tom's ball is already known, so after "lost" the model should say " the";
    /// after "bought" (the counterfactual) a new object is coming and " a" should win.
    /// </summary>
    public static readonly ExplainRequest ArticleExample = new(
        "Tom had a big red ball. One day he lost", " the", " a", "Tom had a big red ball. One day he bought");

    /// <summary>What patching, attribution and ablation measure (default: target − foil logit difference).</summary>
    public MetricKind Metric { get; init; } = MetricKind.LogitDiff;

    /// <summary>The prompt token after which the answer is predicted (default: the last); the prompt is cut there, since nothing later can matter.</summary>
    public int? Position { get; init; }

    /// <summary>
    /// Any metric over the logits instead of <see cref="Metric"/>, built from the ids the run will see and the target's
    /// and foil's tokens; the target is teacher-forced (all its tokens but the last are appended to the prompt).
    /// </summary>
    public Func<int[], int[], int[], AnswerMetric>? CustomMetric { get; init; }

    /// <summary>Prompts to draw the counterfactual from (resampling) when none is given, e.g. a dataset's; <c>Name</c> names them in messages.</summary>
    public (string Name, IReadOnlyList<string> Prompts)? CounterfactualPool { get; init; }
}

public sealed record ExplainOptions
{
    public int TopK { get; init; } = 10;
    /// <summary>Components ablated together in the causal check (and the length of the faithfulness curve).</summary>
    public int VerifyK { get; init; } = 5;
    /// <summary>Points on the counterfactual→clean path where integrated gradients take a gradient.</summary>
    public int IgSteps { get; init; } = IntegratedGradients.DefaultSteps;
    /// <summary>Prompts whose mean activations replace ablated components (mean ablation).</summary>
    public IReadOnlyList<string> ReferencePrompts { get; init; } = DefaultReferencePrompts;
    /// <summary>Where neuron dashboard stores are looked up (null: the model's own <c>dashboards/</c> folder); found ones add each mechanism neuron's top corpus contexts.</summary>
    public string? DashboardFolder { get; init; }
    /// <summary>When set, the report also reads the target − foil difference through this tuned lens, beside the logit lens.</summary>
    public Lens.TunedLens? TunedLens { get; init; }
    /// <summary>Exact patching grids, or attribution-patching estimates with the largest cells verified (default: by model size).</summary>
    public PatchingPolicy Patching { get; init; } = PatchingPolicy.Auto;
    /// <summary>Cells per direction that real patching verifies when the grids are estimated.</summary>
    public int VerifiedCells { get; init; } = EstimatedPatching.DefaultVerifiedCells;

    /// <summary>Fails on settings the model cannot honour, before any work: an oversized <see cref="VerifyK"/> would run for hours.</summary>
    public void Check(TransformerConfig config)
    {
        if (TopK < 1) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be at least 1");
        if (IgSteps < 1) throw new ArgumentOutOfRangeException(nameof(IgSteps), IgSteps, "IgSteps must be at least 1");
        int max = Explainer.MaxVerifyK(config);
        if (VerifyK < 1 || VerifyK > max)
            throw new ArgumentOutOfRangeException(nameof(VerifyK), VerifyK, $"VerifyK must be between 1 and the {max} heads and neurons of the model");
    }

    /// <summary>Plain sentences in the style of the default model's corpora, for mean ablation.</summary>
    public static readonly IReadOnlyList<string> DefaultReferencePrompts =
    [
        "Once upon a time there was a little girl who loved to play in the garden.",
        "The dog ran to the park and found a big stick under a tree.",
        "Tom and his mother went to the store to buy some bread and milk.",
        "In the beginning God created the heaven and the earth.",
        "The Congress shall have power to lay and collect taxes for the common defense.",
        "She looked at the sky and saw a bird flying over the house.",
        "My lord, I pray you, hear me speak of this matter.",
        "The cat sat on the mat and watched the rain fall outside the window.",
    ];
}

/// <summary>A target or foil as the model sees it: the first token of its continuation (the one the logit difference compares), and all of its tokens.</summary>
public sealed record TokenChoice(string Text, int Id, string Token, int TokenCount, IReadOnlyList<string> Pieces)
{
    [JsonIgnore] public int[] Ids { get; init; } = [Id];
    /// <summary>Teacher-forced log-probability of the whole text after the prompt (the sum of <see cref="TokenLogProbs"/>).</summary>
    public double? LogProb { get; init; }
    /// <summary>log p of each token given the prompt and the tokens before it.</summary>
    public IReadOnlyList<double>? TokenLogProbs { get; init; }
}

/// <summary>
/// Runs every method on one prediction: logit lens, direct logit attribution, activation and attribution patching
/// (plain and integrated gradients), the causal check, mechanisms of the top heads and neurons, and which weights matter.
/// </summary>
public static class Explainer
{
    /// <summary>Heads and neurons whose mechanism is read back in tokens, and tokens shown for each.</summary>
    public const int MechanismCount = 3, MechanismTokens = 5;

    /// <summary>The most components the causal check can ablate together: every head and every MLP neuron.</summary>
    public static int MaxVerifyK(TransformerConfig config) => config.NLayers * (config.NHeads + (config.AttentionOnly ? 0 : config.DMlp));

    /// <param name="progress">Called with (phase, phases done, phases in all) after each method.</param>
    /// <param name="cancel">Checked between methods; a cancelled call throws <see cref="OperationCanceledException"/>.</param>
    public static ExplainReport Explain(LoadedModel loaded, ExplainRequest request, ExplainOptions? options = null,
        Action<string, int, int>? progress = null, CancellationToken cancel = default)
    {
        options ??= new ExplainOptions();
        options.Check(loaded.Model.Config);
        const int Phases = 5;
        int done = 0;
        void Step(string phase)
        {
            progress?.Invoke(phase, ++done, Phases);
            cancel.ThrowIfCancellationRequested();
        }
        cancel.ThrowIfCancellationRequested();
        var model = loaded.Model;
        var prediction = Prediction.Prepare(loaded, request);
        var (ids, target, foil, readout, cfIds, cfText, origin) = prediction;
        var metric = prediction.Metric;

        // The logit lens, direct attribution and mechanisms read the answer position (linear in the residual stream there).
        var (diff, lens, dla, cache) = CleanRun(model, prediction.AnswerIds, readout, Mechanisms.HookNamesNeeded(model.Config));
        double cfDiff = readout.FromLogits(model.RunWithHooks(TokenBatch.Single(prediction.CounterfactualAnswerIds), [], lastPositionOnly: true));
        Step("logit lens and direct attribution");

        var estimate = AttributionPatching.Run(model, ids, cfIds, metric, PatchDirection.Denoise);
        var noiseEstimate = AttributionPatching.Run(model, ids, cfIds, metric, PatchDirection.Noise);
        PatchingResult denoise, noise;
        PatchingEstimateNote? estimated = null;
        if (EstimatedPatching.Applies(options.Patching, model))
            (denoise, noise, estimated) = EstimatedPatching.Run(model, ids, cfIds, metric, estimate, noiseEstimate, options.VerifiedCells);
        else
        {
            denoise = ActivationPatching.Run(model, ids, cfIds, metric, PatchDirection.Denoise);
            noise = ActivationPatching.Run(model, ids, cfIds, metric, PatchDirection.Noise);
        }
        Step("activation patching");
        // Estimated grids agree with the estimate by construction outside the verified cells: compare on those.
        double spearman = estimated?.SpearmanOnVerified ?? Agreement(denoise, estimate);
        var integrated = IntegratedGradients.Run(model, ids, cfIds, metric, options.IgSteps);
        Step("attribution patching");

        var ranking = Ranking(model.Config, denoise);
        var neurons = NeuronRanking(estimate);
        var verified = VerificationSet(Ranking(model.Config, noise), NeuronRemovalRanking(model, ids, cfIds, metric, noiseEstimate, options.VerifyK), options.VerifyK);
        var reference = options.ReferencePrompts.Select(p => Continuations.EncodePrompt(loaded, p, "reference prompt")).ToList();
        var mean = Verification.Run(model, ids, cfIds, reference, metric, verified, options.VerifyK, AblationKind.Mean);
        var resample = Verification.Run(model, ids, cfIds, reference, metric, verified, options.VerifyK, AblationKind.Resample);
        Step("ablation check");
        var weights = WeightAttribution.Run(model, ids, metric, options.TopK, id => TokenDisplay.Quote(loaded.Tokenizer.TokenText(id)));
        Step("weights");

        var directAttribution = dla.Components.OrderByDescending(a => Math.Abs(a.Value)).ToList();
        var directNeurons = dla.Neurons.OrderByDescending(a => Math.Abs(a.Value)).ToList();
        var report = new ExplainReport
        {
            Prompt = request.Prompt, Ids = prediction.Ids, Tokens = prediction.Ids.Select(loaded.Tokenizer.TokenText).ToArray(), Target = target, Foil = foil,
            Compared = prediction.Compared, LogitDiff = diff,
            Metric = new MetricSummary(metric.Name, metric.Unit, denoise.CleanDiff, denoise.CounterfactualDiff) { Terms = MetricTerms(model, loaded.Tokenizer, prediction) },
            AnswerPosition = prediction.AnswerIds.Length - 1,
            Counterfactual = new CounterfactualPrompt(cfText, origin, prediction.CounterfactualIds.Select(loaded.Tokenizer.TokenText).ToArray(), cfDiff)
            {
                Candidates = prediction.CounterfactualCandidates.Count > 0 ? prediction.CounterfactualCandidates : null,
            },
            LogitLens = lens, TunedLens = options.TunedLens?.LogitDiffs(cache, readout), TopK = options.TopK,
            DirectAttribution = directAttribution, DirectAttributionConstant = dla.Constant, TopNeurons = directNeurons.Take(options.TopK).ToList(),
            Denoising = denoise, Noising = noise, EstimatedPatching = estimated, AttributionDenoising = estimate, AttributionSpearman = spearman,
            IntegratedDenoising = integrated, IntegratedGradientsSpearman = Agreement(denoise, integrated), IgSteps = options.IgSteps,
            PatchingRanking = ranking, NeuronRanking = neurons.Take(options.TopK).ToList(),
            Verified = verified, MeanAblation = mean, ResampleAblation = resample,
            HeadMechanisms = ranking.Where(a => a.Component.Kind == ComponentKind.Head).Take(MechanismCount)
                .Select(a => Mechanisms.Head(model, loaded.Tokenizer, cache, prediction.AnswerIds, a.Component, MechanismTokens)).ToList(),
            NeuronMechanisms = verified.Where(x => x.Kind == ComponentKind.Neuron).Concat(directNeurons.Select(a => a.Component))
                .Distinct().Take(MechanismCount)
                .Select(x => Mechanisms.Neuron(model, loaded.Tokenizer, cache, x, MechanismTokens)).ToList(),
            WeightAttribution = weights,
        };
        return report with { NeuronContexts = NeuronContextReadout.For(loaded, report.NeuronMechanisms.Select(n => n.Neuron), options.DashboardFolder) is { Count: > 0 } found ? found : null };
    }

    /// <summary>
    /// One cached forward of the clean prompt: its logit difference, the logit lens and direct logit attribution, and
    /// the cache (which also holds <paramref name="extraHooks"/>).
    /// </summary>
    public static (double LogitDiff, IReadOnlyList<LensPoint> Lens, DlaResult Direct, ActivationCache Cache) CleanRun(
        HookedTransformer model, int[] ids, LogitDiffReadout readout, IEnumerable<string> extraHooks)
    {
        var needed = LogitLens.HookNamesNeeded(model.Config).Concat(DirectLogitAttribution.HookNamesNeeded(model.Config)).Concat(extraHooks).ToHashSet();
        var (logits, cache) = model.RunWithCache(TokenBatch.Single(ids), needed.Contains, lastPositionOnly: true);
        double diff = readout.FromLogits(logits);
        return (diff, LogitLens.Run(model.Config, cache, readout), DirectLogitAttribution.Run(model, cache, readout, diff), cache);
    }

    /// <summary>Each answer token's log-probability on the clean and counterfactual runs, for metrics that sum them (null otherwise).</summary>
    public static IReadOnlyList<MetricTermValue>? MetricTerms(HookedTransformer model, ITokenizer tokenizer, Prediction prediction)
    {
        var metric = prediction.Metric;
        if (metric.Terms is not { } terms) return null;
        double[] Values(TokenBatch run) => metric.TermValues(model.Forward(Compute.Eager, run, lastPositionOnly: metric.LastPositionOnly))!;
        var (clean, counterfactual) = (Values(prediction.Run), Values(prediction.CounterfactualRun));
        return terms.Select((t, i) => new MetricTermValue(t.Answer, t.Index, tokenizer.TokenText(t.Token), t.Sign, clean[i], counterfactual[i])).ToList();
    }

    /// <summary>
    /// The set the causal check ablates: the k heads and single neurons with the largest values (MLP layers are too coarse
    /// to name a mechanism). Given noising-direction rankings — how much knocking each one out alone removes — since
    /// necessity is what ablation tests.
    /// </summary>
    public static List<Component> VerificationSet(IEnumerable<Attribution> components, IEnumerable<Attribution> neurons, int k) =>
        components.Where(a => a.Component.Kind == ComponentKind.Head).Concat(neurons)
            .OrderByDescending(a => a.Value).Take(k).Select(a => a.Component).ToList();

    /// <summary>Neurons attribution patching shortlists per place in the verified set, for activation patching to measure exactly.</summary>
    public const int NeuronShortlistPerSlot = 5;

    /// <summary>
    /// Neurons ranked by what knocking each one out alone removes (noising): attribution patching estimates every neuron
    /// in one backward pass, then activation patching measures the shortlist exactly, since the estimate is linear and
    /// a neuron past a GELU knee can be far off.
    /// </summary>
    /// <param name="noiseEstimate">Attribution patching of the prediction in the noising direction.</param>
    public static List<Attribution> NeuronRemovalRanking(HookedTransformer model, TokenBatch ids, TokenBatch cfIds, AnswerMetric metric, PatchingResult noiseEstimate, int k)
    {
        var shortlist = NeuronRanking(noiseEstimate).Take(NeuronShortlistPerSlot * k).Select(a => a.Component);
        return ActivationPatching.Neurons(model, ids, cfIds, metric, PatchDirection.Noise, shortlist)
            .OrderByDescending(a => a.Value).ToList();
    }

    /// <summary>Heads and MLPs ordered by how much of the clean difference patching each one in restores.</summary>
    public static List<Attribution> Ranking(TransformerConfig c, PatchingResult patching)
    {
        var list = new List<Attribution>();
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) list.Add(new Attribution(new Component(ComponentKind.Head, l, h), patching.Heads[l][h]));
            if (!c.AttentionOnly) list.Add(new Attribution(new Component(ComponentKind.Mlp, l, 0), patching.MlpOut[l]));
        }
        return list.OrderByDescending(a => a.Value).ToList();
    }

    /// <summary>Neurons ordered by their estimated (attribution-patching) share of the difference restored.</summary>
    public static List<Attribution> NeuronRanking(PatchingResult estimate) =>
        (estimate.Neurons ?? []).SelectMany((layer, l) => layer.Select((v, n) => new Attribution(new Component(ComponentKind.Neuron, l, n), v)))
            .OrderByDescending(a => a.Value).ToList();

    /// <summary>Every patching cell in a fixed order, for comparing two patching results.</summary>
    public static List<double> Cells(PatchingResult r) =>
        r.ResidualByLayerPosition.SelectMany(x => x).Concat(r.AttentionOut).Concat(r.MlpOut).Concat(r.Heads.SelectMany(x => x)).ToList();

    /// <summary>
    /// Spearman correlation of two patching results over the cells where either is non-zero (cells that no method
    /// can move — positions before the changed token — would otherwise inflate the agreement with ties).
    /// </summary>
    public static double Agreement(PatchingResult exact, PatchingResult estimate)
    {
        var pairs = Cells(exact).Zip(Cells(estimate)).Where(p => p.First != 0 || p.Second != 0).ToList();
        return Statistics.Spearman(pairs.Select(p => p.First).ToList(), pairs.Select(p => p.Second).ToList());
    }
}

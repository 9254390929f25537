using System.Text.Json.Serialization;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Interpretability.Explain;

/// <summary>The prompt patching runs against: its text, how it was found, its tokens, and the clean difference on it.</summary>
public sealed record CounterfactualPrompt(string Text, string Origin, IReadOnlyList<string> Tokens, double LogitDiff)
{
    /// <summary>When searched for: the best candidates by how far they lower the difference, the chosen one first.</summary>
    public IReadOnlyList<CounterfactualCandidate>? Candidates { get; init; }
}

/// <summary>Activation patching cells: counterfactual run with one clean activation (denoise) beside the clean run with one counterfactual activation (noise).</summary>
/// <param name="AttnOut">Denoise, per layer.</param>
/// <param name="MlpOut">Denoise, per layer (empty for attention-only models).</param>
public sealed record PatchingGrids(double[][] ResidualDenoise, double[][] ResidualNoise, double[] AttnOut, double[] MlpOut, double[][] Heads, double[][] HeadsNoise);

/// <summary>A gradient estimate of denoising patching and its rank agreement with the exact cells.</summary>
/// <param name="Steps">Points on the counterfactual→clean path (integrated gradients); null for plain attribution patching.</param>
public sealed record PatchingEstimate(int? Steps, double[][] Residual, double[] AttnOut, double[] MlpOut, double[][] Heads, double SpearmanVsActivation)
{
    public static PatchingEstimate Of(PatchingResult cells, double spearman, int? steps = null) =>
        new(steps, cells.ResidualByLayerPosition, cells.AttentionOut, cells.MlpOut, cells.Heads, spearman);
}

/// <summary>The metric patching, attribution patching, ablation and weights measure, on the clean run and on the counterfactual.</summary>
/// <param name="Name">"logit_diff", "logprob", "prob", "kl", or a custom metric's name.</param>
/// <param name="Unit">"logits", "nats" or "probability".</param>
public sealed record MetricSummary(string Name, string Unit, double Clean, double Counterfactual)
{
    /// <summary>For metrics that sum answer tokens' log-probabilities (logprob, logprob_diff): each token's part; null otherwise.</summary>
    public IReadOnlyList<MetricTermValue>? Terms { get; init; }

    /// <summary>Clean − counterfactual: what patching shares are shares of.</summary>
    [JsonIgnore] public double Effect => Clean - Counterfactual;
}

/// <summary>One answer token's teacher-forced log-probability in the metric: the metric is Σ sign · log p over its terms.</summary>
/// <param name="Answer">"target" or "foil".</param>
/// <param name="Index">The token's place in its answer.</param>
/// <param name="Sign">+1 (added) or −1 (subtracted).</param>
/// <param name="Clean">log p(token | prompt, earlier answer tokens), nats.</param>
/// <param name="Counterfactual">The same on the counterfactual prompt.</param>
public sealed record MetricTermValue(string Answer, int Index, string Token, int Sign, double Clean, double Counterfactual);

/// <summary>The causal check: mean ablation's numbers at the top level, the ablated set, and resample ablation beside them.</summary>
public sealed record VerificationSummary(
    int K, double TopKFractionRemoved, double RandomKFractionRemoved, IReadOnlyList<double> Curve, IReadOnlyList<double> RandomCurve,
    IReadOnlyList<Component> Components, VerificationResult Resample);

/// <summary>One verified weight vector: its estimated and measured change of the difference when zeroed.</summary>
/// <param name="Kind">"row" or "column".</param>
public sealed record WeightRow(string Name, string Matrix, string Kind, int Index, string? Note, double Estimate, double Actual)
{
    public static IReadOnlyList<WeightRow> Of(WeightRanking ranking) => ranking.Verified
        .Select(e => new WeightRow(e.Vector.Name, e.Vector.Matrix, ReportJson.Name(e.Vector.Kind), e.Vector.Index, e.Vector.Note, e.Estimate, e.Actual)).ToList();
}

/// <summary>
/// Everything <see cref="Explainer.Explain"/> measured about one prediction, and the JSON contract of
/// <c>pinpoint explain --json</c> and the web API (serialized by <see cref="ReportJson"/>): properties marked
/// <see cref="JsonIgnoreAttribute"/> are the full data the HTML report draws from; the others are what JSON carries.
/// Optional sections are nullable init properties, left out of the JSON when null.
/// </summary>
public sealed record ExplainReport
{
    /// <summary>The answer first: sentences from the numbers below, with their caveats.</summary>
    public ExplainSummary Summary => ExplainSummary.For(this);

    public required string Prompt { get; init; }
    [JsonIgnore] public required int[] Ids { get; init; }
    public required string[] Tokens { get; init; }
    public required TokenChoice Target { get; init; }
    public required TokenChoice Foil { get; init; }
    /// <summary>The tokens the logit difference, the logit lens and direct attribution compare: where the answers first differ.</summary>
    public required AnswerComparison Compared { get; init; }
    /// <summary>Target − foil logit of the <see cref="Compared"/> tokens at the answer position.</summary>
    public required double LogitDiff { get; init; }
    /// <summary>The metric patching and ablation use; with the default (logit_diff) its clean value is <see cref="LogitDiff"/>.</summary>
    public required MetricSummary Metric { get; init; }
    /// <summary>The position (in <see cref="Tokens"/>) whose next-token logits are compared: the prompt's last, or the last token the answers share.</summary>
    public required int AnswerPosition { get; init; }
    public required CounterfactualPrompt Counterfactual { get; init; }
    public required IReadOnlyList<LensPoint> LogitLens { get; init; }
    /// <summary>The same difference read through a tuned lens's translators (<see cref="ExplainOptions.TunedLens"/>); null without one.</summary>
    public IReadOnlyList<LensPoint>? TunedLens { get; init; }

    /// <summary>Rows shown per ranking in JSON (<see cref="ExplainOptions.TopK"/>).</summary>
    [JsonIgnore] public required int TopK { get; init; }
    /// <summary>Every component's direct logit attribution, largest |value| first.</summary>
    [JsonIgnore] public required IReadOnlyList<Attribution> DirectAttribution { get; init; }
    [JsonPropertyName("direct_attribution")] public IReadOnlyList<Attribution> TopDirectAttribution => [.. DirectAttribution.Take(TopK)];
    public required double DirectAttributionConstant { get; init; }
    /// <summary>The neurons with the largest |direct logit attribution|.</summary>
    public required IReadOnlyList<Attribution> TopNeurons { get; init; }

    [JsonIgnore] public required PatchingResult Denoising { get; init; }
    [JsonIgnore] public required PatchingResult Noising { get; init; }
    /// <summary>Set when the patching grids are attribution-patching estimates with only their largest cells verified (large models); null when every cell is exact.</summary>
    public PatchingEstimateNote? EstimatedPatching { get; init; }
    [JsonIgnore] public required PatchingResult AttributionDenoising { get; init; }
    [JsonIgnore] public required double AttributionSpearman { get; init; }
    [JsonIgnore] public required PatchingResult IntegratedDenoising { get; init; }
    [JsonIgnore] public required double IntegratedGradientsSpearman { get; init; }
    [JsonIgnore] public required int IgSteps { get; init; }
    public PatchingGrids Patching => new(Denoising.ResidualByLayerPosition, Noising.ResidualByLayerPosition, Denoising.AttentionOut, Denoising.MlpOut,
        Denoising.Heads, Noising.Heads);
    public PatchingEstimate AttributionPatching => PatchingEstimate.Of(AttributionDenoising, AttributionSpearman);
    public PatchingEstimate IntegratedGradients => PatchingEstimate.Of(IntegratedDenoising, IntegratedGradientsSpearman, IgSteps);

    /// <summary>Heads and MLPs by the share of the effect patching each one in restores (all of them).</summary>
    [JsonIgnore] public required IReadOnlyList<Attribution> PatchingRanking { get; init; }
    [JsonPropertyName("patching_ranking")] public IReadOnlyList<Attribution> TopPatchingRanking => [.. PatchingRanking.Take(TopK)];
    /// <summary>The top neurons by their attribution-patching estimate.</summary>
    [JsonPropertyName("neuron_patching")] public required IReadOnlyList<Attribution> NeuronRanking { get; init; }

    /// <summary>The heads and neurons ablated together in the causal check.</summary>
    [JsonIgnore] public required IReadOnlyList<Component> Verified { get; init; }
    [JsonIgnore] public required VerificationResult MeanAblation { get; init; }
    [JsonIgnore] public required VerificationResult ResampleAblation { get; init; }
    public VerificationSummary Verification => new(MeanAblation.K, MeanAblation.TopKFractionRemoved, MeanAblation.RandomKFractionRemoved,
        MeanAblation.Curve, MeanAblation.RandomCurve, Verified, ResampleAblation);

    public required IReadOnlyList<HeadMechanism> HeadMechanisms { get; init; }
    public required IReadOnlyList<NeuronMechanism> NeuronMechanisms { get; init; }

    [JsonIgnore] public required WeightAttributionResult WeightAttribution { get; init; }
    /// <summary>Weight vectors across every matrix, by estimate, each verified by zeroing it.</summary>
    public IReadOnlyList<WeightRow> Weights => WeightRow.Of(WeightAttribution.All);
    public double WeightsSpearman => WeightAttribution.All.Spearman;
    /// <summary>The same inside the blocks (attention and MLP matrices) only.</summary>
    public IReadOnlyList<WeightRow> BlockWeights => WeightRow.Of(WeightAttribution.InBlocks);
    public double BlockWeightsSpearman => WeightAttribution.InBlocks.Spearman;
    public int WeightsScored => WeightAttribution.Scored;

    /// <summary>Full path of the HTML report, when a front end wrote one.</summary>
    public string? Html { get; init; }

    // Optional sections (neuron top contexts, tuned-lens rows, SAE features, ...) go below as nullable init
    // properties: null leaves them out of the JSON.

    /// <summary>The top corpus contexts of the mechanism neurons whose layer has a dashboard store (<c>pinpoint neurons</c>); null where none exists.</summary>
    public IReadOnlyList<Dashboards.NeuronContexts>? NeuronContexts { get; init; }

    /// <summary>The target − foil difference attributed to SAE features and error nodes (<c>explain --sae</c>); null without SAEs.</summary>
    public Saes.FeatureAttributionResult? Features { get; init; }
}

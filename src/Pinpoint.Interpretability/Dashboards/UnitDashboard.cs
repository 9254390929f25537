using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// A window of tokens around one activating token: <see cref="Tokens"/> (ids, texts in the store's
/// <see cref="DashboardStore.TokenTexts"/>) and the unit's activation at each, the activating one at index
/// <see cref="Focus"/>. Contexts stop at the edges of the corpus window they came from.
/// </summary>
/// <param name="Source">The corpus window's index.</param>
/// <param name="Position">The activating token's position in that window.</param>
public sealed record ActivatingContext(long Source, int Position, float Activation, int Focus, int[] Tokens, float[] Activations);

/// <summary>
/// Counts of the positive activations in <see cref="Counts"/>.Length equal bins over (0, <see cref="Range"/>]
/// (the range is a power of two at least the largest activation); <see cref="NonPositive"/> counts the rest.
/// </summary>
public sealed record ActivationHistogram(double Range, long NonPositive, long[] Counts)
{
    public double BinWidth => Range / Counts.Length;
}

/// <summary>Contexts drawn uniformly from the tokens whose activation lies in [<see cref="Lower"/>, <see cref="Upper"/>), and how many such tokens there were.</summary>
public sealed record IntervalSample(double Lower, double Upper, long Count, IReadOnlyList<ActivatingContext> Contexts);

/// <summary>
/// One unit's dashboard: its strongest contexts, samples across its activation range, its activation histogram
/// and density (fraction of tokens with activation &gt; 0), and its logit effect — the tokens whose logits its output
/// direction raises and lowers most, read through the final norm's weights and the unembedding.
/// </summary>
public sealed record UnitDashboard(
    int Unit,
    double MaxActivation,
    double MeanActivation,
    double Density,
    ActivationHistogram Histogram,
    IReadOnlyList<ActivatingContext> Top,
    IReadOnlyList<IntervalSample> Intervals,
    IReadOnlyList<TokenScore>? Promotes,
    IReadOnlyList<TokenScore>? Suppresses);

/// <summary>What kind of unit a dashboard store describes (its "kind" field: "neuron" or "feature").</summary>
public enum DashboardUnitKind { Neuron, Feature }

/// <summary>
/// Dashboards of every unit at one hook (MLP neurons, or the features of one SAE), from one pass over a corpus.
/// <see cref="TokenTexts"/> holds the text of every token id the contexts use.
/// </summary>
public sealed record DashboardStore(
    string Model,
    int VocabSize,
    string Hook,
    string Kind,
    string? Sae,
    IReadOnlyList<string> Corpus,
    long Tokens,
    long Windows,
    int WindowLength,
    DashboardOptions Options,
    string? LogitEffectNote,
    IReadOnlyDictionary<int, string> TokenTexts,
    IReadOnlyList<UnitDashboard> Units)
{
    /// <summary>The text of token <paramref name="id"/> as the contexts show it.</summary>
    public string Text(int id) => TokenTexts.TryGetValue(id, out var text) ? text : $"<{id}>";
}

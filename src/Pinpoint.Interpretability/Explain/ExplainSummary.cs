using System.Globalization;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// The answer first: a few sentences built from an explanation's measured numbers, and the caveats that qualify
/// them. Every share names its base (the clean − counterfactual effect, or the clean difference).
/// </summary>
/// <param name="Sentences">What decides the prediction, how, and what ablation confirms, in that order.</param>
/// <param name="Caveats">Conditions under which the numbers above mislead (near-zero or sign-flipped bases, a weak counterfactual, undefined agreements).</param>
public sealed record ExplainSummary(IReadOnlyList<string> Sentences, IReadOnlyList<string> Caveats)
{
    /// <summary>Differences (in logits) below this are "near zero": shares of them are not shown as percentages.</summary>
    public const double NearZero = 0.25;

    /// <summary>Components named in the first sentence.</summary>
    public const int Named = 3;

    /// <summary>Whether a share of <paramref name="baseValue"/> can be read as a percentage: the base is positive and not near zero.</summary>
    public static bool ShareIsMeaningful(double baseValue) => double.IsFinite(baseValue) && baseValue >= NearZero;

    /// <summary>A share as a percentage of its base, or a flag instead when the base is near zero or negative.</summary>
    public static string Share(double share, double baseValue, string unit = "logits") =>
        !double.IsFinite(share) ? "undefined"
        : ShareIsMeaningful(baseValue) ? Percent(share)
        : $"{Logits(share * baseValue)} {unit} (no share: base {Logits(baseValue)})";

    /// <summary>"42%" (no space, no "-0%").</summary>
    public static string Percent(double share)
    {
        double rounded = Math.Round(share * 100);
        return (rounded == 0 ? 0 : rounded).ToString("0", CultureInfo.InvariantCulture) + "%";
    }

    public static string Logits(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    public static ExplainSummary For(ExplainReport r)
    {
        string target = Quote(r.Compared.TargetToken), foil = Quote(r.Compared.FoilToken);
        double effect = r.LogitDiff - r.Counterfactual.LogitDiff;
        var sentences = new List<string>();
        var caveats = new List<string>();

        if (r.Compared.Shared.Count > 0)
            sentences.Add($"{Quote(r.Target.Text)} and {Quote(r.Foil.Text)} start alike, so the answers are {r.Compared.Text} (fed after the prompt).");
        sentences.Add(r.LogitDiff >= 0
            ? $"The model prefers {target} over {foil} by {Logits(r.LogitDiff)} logits; with the counterfactual {Quote(r.Counterfactual.Text)} the difference is {Logits(r.Counterfactual.LogitDiff)}, so the changed tokens account for {Logits(effect)} logits (the effect)."
            : $"The model prefers {foil} over {target} by {Logits(-r.LogitDiff)} logits; with the counterfactual {Quote(r.Counterfactual.Text)} the difference is {Logits(r.Counterfactual.LogitDiff)}, an effect of {Logits(effect)} logits.");
        if (r.Counterfactual.Candidates is { Count: > 0 } candidates)
            sentences.Add($"The counterfactual was chosen automatically ({r.Counterfactual.Origin}); it {(r.LogitDiff <= 0 ? "lowers a difference the target already loses" : r.Counterfactual.LogitDiff < 0 ? "flips the answer" : "does not flip the answer")}"
                + (candidates.Count > 1 ? $"; the next candidates reach {string.Join(", ", candidates.Skip(1).Select(c => Logits(c.LogitDiff)))} logits." : "."));
        // Patching and ablation measure the chosen metric: from here on, effects and bases are its.
        effect = r.Metric.Effect;
        string unit = r.Metric.Unit;
        double clean = r.Metric.Clean;
        string quantity = unit == "logits" ? "difference" : "value";
        if (r.Metric.Name != "logit_diff")
            sentences.Add($"Patching and ablation measure {r.Metric.Name}: {Logits(clean)} {unit} on the prompt, {Logits(r.Metric.Counterfactual)} on the counterfactual, an effect of {Logits(effect)} {unit}.");

        var top = r.PatchingRanking.Take(Named).ToList();
        if (top.Count > 0)
            sentences.Add("Patching each component from the clean run into the counterfactual restores: "
                + string.Join(", ", top.Select(a => $"{a.Component.Name} {Share(a.Value, effect, unit)}"))
                + $" of the effect ({Logits(effect)} {unit}).");

        foreach (var h in r.HeadMechanisms.Take(2))
        {
            var attended = h.AttendsTo.FirstOrDefault();
            if (attended is null) continue;
            sentences.Add($"{h.Head.Name} attends from the last position mostly to {Quote(attended.Token)} (position {attended.Position}, weight {attended.Weight:0.00}) and its output promotes "
                + $"{string.Join(", ", h.Promotes.Take(3).Select(t => Quote(t.Token)))}; its OV circuit alone maps {Quote(h.Ov.SourceToken)} to {string.Join(", ", h.Ov.Promotes.Take(3).Select(t => Quote(t.Token)))}.");
        }
        if (r.NeuronMechanisms.FirstOrDefault() is { } n)
            sentences.Add($"Neuron {n.Neuron.Name} (activation {n.Activation:0.00}) responds to tokens such as {string.Join(", ", n.ReadsFrom.Take(3).Select(t => Quote(t.Token)))} and pushes up {string.Join(", ", n.Promotes.Take(3).Select(t => Quote(t.Token)))}.");

        var resample = r.ResampleAblation;
        var mean = r.MeanAblation;
        string set = string.Join(", ", r.Verified.Select(c => c.Name));
        sentences.Add(ShareIsMeaningful(clean)
            ? $"Ablating {set} together removes {Share(resample.TopKFractionRemoved, 1)} of the clean {quantity} ({Logits(clean)} {unit}) by resampling from the counterfactual and {Share(mean.TopKFractionRemoved, 1)} by mean ablation; random sets of {resample.K} of the same kinds remove {Share(resample.RandomKFractionRemoved, 1)} and {Share(mean.RandomKFractionRemoved, 1)}."
            : $"Ablating {set} together moves the clean {quantity} by {Logits(resample.TopKFractionRemoved * clean)} {unit} (resample) and {Logits(mean.TopKFractionRemoved * clean)} (mean); random sets of {resample.K}: {Logits(resample.RandomKFractionRemoved * clean)} and {Logits(mean.RandomKFractionRemoved * clean)}.");

        if (r.LogitDiff < 0)
            caveats.Add($"The target loses: the foil {foil} is ahead by {Logits(-r.LogitDiff)} logits, so \"removed\" shares of the clean difference are not shown as percentages.");
        else if (r.LogitDiff < NearZero)
            caveats.Add($"The clean difference ({Logits(r.LogitDiff)} logits) is near zero: the model barely prefers {target}; shares of it are not shown as percentages.");
        if (Math.Abs(effect) < NearZero)
            caveats.Add($"The counterfactual is weak: it moves the {quantity} by only {Logits(effect)} {unit}, so patching shares of the effect are shown in {unit}.");
        else if (effect < 0)
            caveats.Add($"The counterfactual favours the target more than the prompt does (effect {Logits(effect)} {unit}): patching shares are of a negative effect.");
        else if (r.Counterfactual.LogitDiff > 0)
            caveats.Add($"The counterfactual does not flip the answer (its difference is still {Logits(r.Counterfactual.LogitDiff)}): patching explains {Logits(effect)} of the {Logits(r.LogitDiff)} logits only.");
        if (r.EstimatedPatching is { } estimated)
            caveats.Add($"The patching grids are {estimated.Note}: other cells are first-order estimates.");
        if (!double.IsFinite(r.AttributionSpearman))
            caveats.Add("The agreement of attribution with activation patching is undefined (fewer than two cells move, or one ranking is constant).");
        else if (r.AttributionSpearman < 0.5)
            caveats.Add($"Attribution patching agrees only loosely with activation patching (Spearman {r.AttributionSpearman:0.00}): trust the activation-patching numbers.");
        if (ShareIsMeaningful(clean) && resample.TopKFractionRemoved <= resample.RandomKFractionRemoved)
            caveats.Add($"The top {resample.K} remove no more than random components do: no small set of heads and neurons decides this prediction.");
        return new ExplainSummary(sentences, caveats);
    }

    private static string Quote(string token) => Pinpoint.Models.Tokenizers.TokenDisplay.Quote(token);
}

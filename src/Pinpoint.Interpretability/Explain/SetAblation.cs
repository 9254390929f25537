using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Explain;

/// <summary>A chosen set knocked out together: the logit difference before and after, and the share removed.</summary>
/// <param name="Kind">"resample" (the counterfactual's outputs) or "mean" (means over the reference prompts).</param>
public sealed record SetAblationResult(string[] Components, string Kind, double LogitDiff, double AblatedLogitDiff, double FractionRemoved, string Counterfactual, string CounterfactualOrigin);

/// <summary>
/// Ablates the heads, MLPs and neurons a user picks (by their names: L1H3, MLP2, L0N17) in one prediction and
/// measures the new target−foil difference, as the causal check does for the top-k set.
/// </summary>
public static class SetAblation
{
    public static SetAblationResult Run(LoadedModel loaded, ExplainRequest request, IReadOnlyList<string> components, AblationKind kind, ExplainOptions? options = null)
    {
        options ??= new ExplainOptions();
        var model = loaded.Model;
        var set = components.Select(name => Parse(name, model.Config)).Distinct().ToList();
        if (set.Count == 0) throw new ArgumentException("no components to ablate; name heads, MLPs or neurons (L1H3, MLP2, L0N17)");
        var p = Prediction.Prepare(loaded, request);
        var reference = kind == AblationKind.Mean
            ? options.ReferencePrompts.Select(r => Continuations.EncodePrompt(loaded, r, "reference prompt")).ToList()
            : [];
        var replacement = Verification.Replacements(model, kind, p.CounterfactualRun, reference);
        double clean = p.Metric.FromLogits(model.RunWithHooks(p.Run, [], lastPositionOnly: p.Metric.LastPositionOnly));
        double ablated = Verification.AblatedDiff(model, p.Run, p.Metric, replacement, set);
        return new SetAblationResult(set.Select(x => x.Name).ToArray(), kind == AblationKind.Mean ? "mean" : "resample",
            clean, ablated, Math.Abs(clean) < 1e-12 ? 0 : (clean - ablated) / clean, p.Counterfactual, p.CounterfactualOrigin);
    }

    /// <summary>A head (L1H3), MLP layer (MLP2) or neuron (L0N17) by the name <see cref="Component.Name"/> gives it, checked against the model.</summary>
    public static Component Parse(string name, Pinpoint.Models.Transformer.TransformerConfig c)
    {
        var component = Component.TryParse(name, out var parsed) && parsed.Kind is ComponentKind.Head or ComponentKind.Mlp or ComponentKind.Neuron ? parsed
            : throw new ArgumentException($"'{name}' is not a head, MLP or neuron name (L1H3, MLP2, L0N17)");
        int count = component.Kind switch { ComponentKind.Head => c.NHeads, ComponentKind.Neuron => c.DMlp, _ => 1 };
        if (component.Layer >= c.NLayers || component.Index >= count)
            throw new ArgumentException($"{name}: the model has {c.NLayers} layers, {c.NHeads} heads and {c.DMlp} neurons per layer");
        if (component.Kind != ComponentKind.Head && c.AttentionOnly)
            throw new ArgumentException($"{name}: the model has no MLPs");
        return component;
    }
}

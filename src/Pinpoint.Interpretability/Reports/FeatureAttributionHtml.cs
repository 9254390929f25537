using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Saes;

namespace Pinpoint.Interpretability.Reports;

/// <summary>The SAE-features section of an explain report: <see cref="FeatureAttributionResult"/> as HTML.</summary>
public static class FeatureAttributionHtml
{
    public static HtmlFragment Section(FeatureAttributionResult r)
    {
        string Ablation(VerificationResult v) =>
            $"top {v.K} remove {ExplainSummary.Share(v.TopKFractionRemoved, r.LogitDiff)} of the clean difference; random {v.K} active features (mean of {Verification.RandomDraws} draws) remove {ExplainSummary.Share(v.RandomKFractionRemoved, r.LogitDiff)}";
        HtmlFragment Chart(string id, VerificationResult v, IReadOnlyList<string> ablated, string title) => ReportParts.FaithfulnessChart(id, title, v.Curve, v.RandomCurve, ablated);
        return Html.Section("sae-features", "SAE features",
            "The SAEs spliced in with their error terms (the model computes what it does without them). Each feature's attribution is the attribution-patching " +
            "estimate of the change in target − foil if it took its counterfactual values at every position; the error node (what the SAE does not reconstruct) " +
            "is scored the same way. The top features are then ablated together, to their mean over reference prompts or to their counterfactual values, " +
            "beside random sets of as many features active on the prompts. Mean ablation removes the features ranked by the same estimate against their means " +
            "(a feature that matters by being absent has nothing to lose to its mean). The ablated top features are picked greedily by actual ablation from the estimate's first candidates (the estimate is first order). Logit effect: the tokens a feature's decoder row raises and lowers through the unembedding.",
            Html.Properties(
            [
                ("SAEs", Html.SpaceSeparated(r.Hooks.Select(h => Html.Element("code", h)))),
                ("active features (clean or counterfactual)", Html.Format(r.ActiveFeatures, "F0")),
                .. r.Errors.Select(e => ((string, HtmlFragment))($"error node of {e.Hook}", $"attribution {Html.Format(e.Attribution)} vs {Html.Format(e.FeatureAttribution)} for its features: " + ReportParts.Percent(e.Share) + " of the attribution mass")),
                ("mean ablation", Ablation(r.MeanAblation) + " — " + string.Join(", ", r.MeanAblated)),
                ("resample ablation", Ablation(r.ResampleAblation)),
                ("the estimate's own top features, unrefined", $"mean ablation removes {ExplainSummary.Share(r.MeanRemovedByEstimate, r.LogitDiff)}, resample ablation {ExplainSummary.Share(r.ResampleRemovedByEstimate, r.LogitDiff)}"),
            ]) +
            Html.Figures(
            [
                Html.Table("Top features", ["#", "feature", "attribution", "share of clean − counterfactual", "largest term at", "activation (counterfactual)", "promotes", "suppresses"],
                    r.Top.Select((f, i) => (IReadOnlyList<HtmlFragment>)
                    [
                        Html.Format(i + 1, "F0"), Html.Element("code", f.Name), Html.Number(f.Attribution), ReportParts.Percent(f.Share),
                        Html.Token(f.Token, $"position {f.Position}") + $" @{f.Position}",
                        Html.Number(f.Activation) + " (" + Html.Number(f.CounterfactualActivation) + ")",
                        ReportParts.ScoredChips(f.Promotes), ReportParts.ScoredChips(f.Suppresses),
                    ])),
                Chart("sae-faithfulness-mean", r.MeanAblation, r.MeanAblated, "Features, mean ablation"),
                Chart("sae-faithfulness-resample", r.ResampleAblation, r.ResampleAblated, "Features, resample ablation"),
            ]));
    }
}

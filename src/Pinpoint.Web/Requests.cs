using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Web;

/// <summary>Request bodies (snake_case JSON; unknown fields are refused so that typos fail).</summary>
public static class Requests
{
    public const int MaxTop = 100, MaxNewTokens = 512, MaxVerifyK = 20, MaxIgSteps = 32, MaxDatasetItems = 1000;

    public sealed record PromptBody(string? Model, string? Prompt, int? Top)
    {
        public string RequiredPrompt => Required(Prompt, "prompt");
        public int TopOr(int fallback) => InRange(Top ?? fallback, 1, MaxTop, "top");
    }

    public sealed record GenerateBody(string? Model, string? Prompt, int? MaxNewTokens, float? Temperature, int? TopK, float? TopP, int? Seed)
    {
        public SamplingOptions Sampling()
        {
            var d = new SamplingOptions();
            return new SamplingOptions(Temperature ?? d.Temperature, TopK ?? d.TopK, TopP ?? d.TopP, Seed ?? d.Seed);
        }

        public int Tokens => InRange(MaxNewTokens ?? 32, 1, Requests.MaxNewTokens, "max_new_tokens");
    }

    /// <summary>One prediction, as <c>explain</c> takes it: no prompt means the built-in article example.</summary>
    public sealed record ExplainBody(string? Model, string? Prompt, string? Target, string? Foil, string? Counterfactual, int? Top, int? VerifyK, int? IgSteps)
    {
        public ExplainRequest Request() => ToRequest(Prompt, Target, Foil, Counterfactual);

        public ExplainOptions Options() => new()
        {
            TopK = InRange(Top ?? 10, 1, MaxTop, "top"),
            VerifyK = InRange(VerifyK ?? 5, 1, MaxVerifyK, "verify_k"),
            IgSteps = InRange(IgSteps ?? IntegratedGradients.DefaultSteps, 1, MaxIgSteps, "ig_steps"),
        };
    }

    /// <param name="Components">Names as the explanation shows them: L1H3, MLP2, L0N17.</param>
    /// <param name="Kind">"resample" (default: the counterfactual's outputs) or "mean".</param>
    public sealed record AblateBody(string? Model, string? Prompt, string? Target, string? Foil, string? Counterfactual, string[]? Components, string? Kind)
    {
        public ExplainRequest Request() => ToRequest(Prompt, Target, Foil, Counterfactual);

        public AblationKind AblationKind => (Kind ?? "resample") switch
        {
            "resample" => AblationKind.Resample,
            "mean" => AblationKind.Mean,
            var k => throw new ArgumentException($"kind: '{k}' is not \"resample\" or \"mean\""),
        };
    }

    public sealed record DatasetItem(string? Prompt, string? Target, string? Foil, string? Counterfactual);

    public sealed record DatasetBody(string? Model, string? Name, DatasetItem[]? Items, int? Top, int? VerifyK)
    {
        public IReadOnlyList<ScoreItem> ScoreItems()
        {
            if (Items is not { Length: > 0 }) throw new ArgumentException("items: give at least one {\"prompt\",\"target\",\"foil\",\"counterfactual\"?}");
            if (Items.Length > MaxDatasetItems) throw new ArgumentException($"items: {Items.Length} items; at most {MaxDatasetItems} per job");
            return Items.Select((item, i) => new ScoreItem(
                Required(item.Prompt, $"items[{i}].prompt"), Required(item.Target, $"items[{i}].target"), Required(item.Foil, $"items[{i}].foil"),
                Source: $"items[{i}]", Counterfactual: item.Counterfactual)).ToList();
        }

        public ExplainOptions Options() => new() { TopK = InRange(Top ?? 10, 1, MaxTop, "top"), VerifyK = InRange(VerifyK ?? 5, 1, MaxVerifyK, "verify_k") };
    }

    /// <summary>
    /// <c>circuit</c>'s input: one prediction (no prompt: the built-in article example) or <paramref name="Items"/>, and
    /// either a fixed size (<paramref name="Edges"/>) or the faithfulness the smallest circuit must reach.
    /// </summary>
    public sealed record CircuitBody(string? Model, string? Prompt, string? Target, string? Foil, string? Counterfactual, DatasetItem[]? Items,
        int? Edges, double? TargetFaithfulness, int? CurvePoints, int? Random, int? IgSteps)
    {
        public const int MaxCurvePoints = 100, MaxRandom = 20;

        public IReadOnlyList<ExplainRequest> Requests()
        {
            if (Items is null) return [ToRequest(Prompt, Target, Foil, Counterfactual)];
            if (Prompt is not null) throw new ArgumentException("give a prompt or items, not both");
            return new DatasetBody(Model, null, Items, null, null).ScoreItems().Select(i => new ExplainRequest(i.Prompt, i.Target, i.Foil, i.Counterfactual)).ToList();
        }

        public CircuitOptions Options()
        {
            if (Edges is not null && TargetFaithfulness is not null) throw new ArgumentException("edges fixes the size; target_faithfulness searches for it: give one");
            var options = new CircuitOptions
            {
                Edges = Edges,
                TargetFaithfulness = TargetFaithfulness ?? new CircuitOptions().TargetFaithfulness,
                CurvePoints = InRange(CurvePoints ?? new CircuitOptions().CurvePoints, 1, MaxCurvePoints, "curve_points"),
                RandomDraws = InRange(Random ?? new CircuitOptions().RandomDraws, 1, MaxRandom, "random"),
                IgSteps = InRange(IgSteps ?? 0, 0, MaxIgSteps, "ig_steps"),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{(Edges is not null ? "edges" : "target_faithfulness")}: {e.Message}", e);
            }
            return options;
        }
    }

    private static ExplainRequest ToRequest(string? prompt, string? target, string? foil, string? counterfactual)
    {
        if (prompt is null)
        {
            if (target is not null || foil is not null) throw new ArgumentException("target and foil need a prompt");
            return ExplainRequest.ArticleExample with { Counterfactual = counterfactual ?? ExplainRequest.ArticleExample.Counterfactual };
        }
        return new ExplainRequest(Required(prompt, "prompt"), Required(target, "target"), Required(foil, "foil"), string.IsNullOrEmpty(counterfactual) ? null : counterfactual);
    }

    private static string Required(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw new ArgumentException($"{field} is required") : value;

    private static int InRange(int value, int min, int max, string field) =>
        value >= min && value <= max ? value : throw new ArgumentException($"{field}: {value} is outside {min}..{max}");
}

using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Web;

/// <summary>
/// The seam to the CLI: the objects its commands print with <c>--json</c>, built by the CLI itself, so the API
/// returns exactly those (one schema, and the one serializer <see cref="Pinpoint.Interpretability.Reports.ReportJson"/>)
/// while this project stays below the CLI.
/// </summary>
public interface ICommandResults
{
    /// <summary>Whether an exception was caused by what the user passed (answered 400) rather than a bug.</summary>
    bool IsBadInput(Exception e);

    /// <summary>The result types, in the order info, run, generate, explain, explain --dataset (for the OpenAPI document).</summary>
    CommandResultTypes Types { get; }

    object Info(LoadedModel model);
    object Run(LoadedModel model, string prompt, int top);
    object Generate(LoadedModel model, string prompt, int maxNewTokens, SamplingOptions sampling);
    object Explain(LoadedModel model, ExplainRequest request, ExplainOptions options);
    object ExplainDataset(LoadedModel model, string name, IReadOnlyList<ScoreItem> items, ExplainOptions options, Action<string, int, int> progress);
}

public sealed record CommandResultTypes(Type Info, Type Run, Type Generate, Type Explain, Type ExplainDataset);

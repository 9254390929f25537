using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Web;

/// <summary>
/// The seam to the CLI for the commands whose results the CLI builds (explain's come from the library): the objects
/// its commands print with <c>--json</c>, so the API returns exactly those (one schema, and the one serializer <see cref="Pinpoint.Interpretability.Reports.ReportJson"/>)
/// while this project stays below the CLI.
/// </summary>
public interface ICommandResults
{
    /// <summary>Whether an exception was caused by what the user passed (answered 400) rather than a bug.</summary>
    bool IsBadInput(Exception e);

    /// <summary>The result types, in the order info, run, generate (for the OpenAPI document).</summary>
    CommandResultTypes Types { get; }

    object Info(LoadedModel model);
    object Run(LoadedModel model, string prompt, int top);
    object Generate(LoadedModel model, string prompt, int maxNewTokens, SamplingOptions sampling);
}

public sealed record CommandResultTypes(Type Info, Type Run, Type Generate);

using System.Text.Json;
using System.Text.Json.Serialization;
using Pinpoint.Models.Formats;

namespace Pinpoint.Interpretability.Reports;

/// <summary>
/// The one JSON serializer for results: snake_case names, nulls left out, and non-finite numbers (an undefined
/// Spearman, a share of nothing) written as null rather than the strings "NaN" or "Infinity" — the result's summary
/// says why a value is missing.
/// </summary>
public static class ReportJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new NonFiniteAsNull() },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}

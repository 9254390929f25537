using System.Text.Json;
using System.Text.Json.Serialization;

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
        Converters = { new FiniteOrNull() },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Doubles as numbers when finite, null otherwise (inside arrays too, where an omitted value would shift the rest).</summary>
    private sealed class FiniteOrNull : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }
}

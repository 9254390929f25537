using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Pinpoint.Interpretability.Explain;
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
        // C# `required` says what a report must be built with; it does not make JSON readers demand every field (and
        // JsonIgnore-d required members would otherwise be refused).
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { NothingRequired } },
    };

    private static void NothingRequired(JsonTypeInfo type)
    {
        foreach (var property in type.Properties) property.IsRequired = false;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>An enum value as JSON writes it: snake_case ("item_specific").</summary>
    public static string Name(Enum value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
}

/// <summary>An enum as its snake_case name in JSON (<see cref="ReportJson.Name"/>).</summary>
public sealed class SnakeCaseEnumJson<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) where T : struct, Enum;

/// <summary>A component as its name in JSON ("L1H3", "MLP0", "L0N12"), the way every table shows it.</summary>
public sealed class ComponentNameJson : JsonConverter<Component>
{
    public override Component Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        Component.Parse(reader.GetString() ?? throw new JsonException("a component name is null"));

    public override void Write(Utf8JsonWriter writer, Component value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Writes NaN and ±infinity as JSON <c>null</c>, which JSON allows, and reads <c>null</c> back as NaN (inside
/// arrays too, where an omitted value would shift the rest). With nulls otherwise left out, a field that is present
/// and null means "measured, not finite".
/// </summary>
public sealed class NonFiniteAsNull : JsonConverter<double>
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

using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pinpoint.Training;

/// <summary>
/// Writes NaN and ±infinity as JSON <c>null</c>, which JSON allows, and reads <c>null</c> back as NaN. In
/// metrics.jsonl and trainer_state.json a field that is present and null therefore means "measured, not finite";
/// an absent field means "not measured at this step".
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

/// <summary>Training stopped because the loss or the gradient stopped being finite (the weights were left as they were).</summary>
public sealed class TrainingStoppedException(string message) : Exception(message);

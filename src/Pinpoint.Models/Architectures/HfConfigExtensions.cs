using System.Text.Json;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Adapter-side reads of a parsed config.json: required fields and the rarer fields the typed record lacks.</summary>
public static class HfConfigExtensions
{
    public static int Required(this HfConfig c, int? value, string field) =>
        value ?? throw new ModelConfigException($"{c.Path}: required field '{field}' is missing");

    public static double? RawNumber(this HfConfig c, string field) =>
        c.Raw.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    public static string? RawString(this HfConfig c, string field) =>
        c.Raw.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int? EosTokenId(this HfConfig c) => c.EosTokenIds is { Length: > 0 } ids ? ids[0] : null;
}

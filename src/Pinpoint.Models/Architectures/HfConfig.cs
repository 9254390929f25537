using System.Text.Json;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Typed reads of a Hugging Face config.json, with errors that name the file and the field.</summary>
public sealed class HfConfig(JsonElement root, string path)
{
    public JsonElement Root { get; } = root;
    public string Path { get; } = path;

    public string ModelType => String("model_type") ?? throw Missing("model_type");

    public static HfConfig Load(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelConfigException($"{path}: config is not a JSON object");
            return new HfConfig(doc.RootElement.Clone(), path);
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path}: not valid JSON ({e.Message})");
        }
        catch (IOException e)
        {
            throw new ModelConfigException($"{path}: cannot read config ({e.Message})");
        }
    }

    public bool Has(string name) => Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>The first present field among <paramref name="names"/> (configs spell the same thing differently).</summary>
    public int Int(params string[] names) => IntOrNull(names) ?? throw Missing(string.Join(" / ", names));

    public int? IntOrNull(params string[] names)
    {
        foreach (var n in names)
        {
            if (!Root.TryGetProperty(n, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)) return i;
            if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 && v[0].TryGetInt32(out var first)) return first;
            throw new ModelConfigException($"{Path}: field '{n}' should be an integer, got {v.GetRawText()}");
        }
        return null;
    }

    public float Float(float fallback, params string[] names)
    {
        foreach (var n in names)
        {
            if (!Root.TryGetProperty(n, out var v) || v.ValueKind == JsonValueKind.Null) continue;
            if (v.ValueKind == JsonValueKind.Number) return v.GetSingle();
            throw new ModelConfigException($"{Path}: field '{n}' should be a number, got {v.GetRawText()}");
        }
        return fallback;
    }

    public bool Bool(bool fallback, string name)
    {
        if (!Root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelConfigException($"{Path}: field '{name}' should be true or false, got {v.GetRawText()}"),
        };
    }

    public string? String(string name) =>
        Root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public ModelConfigException Missing(string name) => new($"{Path}: required field '{name}' is missing");
}

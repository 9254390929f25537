using System.Text.Json;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Reads safetensors files (<c>model.safetensors</c>) and sharded sets (<c>model.safetensors.index.json</c>
/// with a <c>weight_map</c>). F32, F16 and BF16 tensors are mapped without copying.
/// </summary>
/// <remarks>
/// Layout: u64 little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c>),
/// then the data region; offsets are relative to it. Validation follows the reference implementation: the
/// tensors must tile the data region exactly (sorted, no gaps, no overlaps, nothing left over).
/// </remarks>
public static class SafetensorsReader
{
    /// <summary>The reference implementation refuses headers above this size; so do we, before allocating.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<string, int> DTypeSizes = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    public static TensorFile Open(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(path) : OpenSingle(path);

    private static TensorFile OpenSingle(string path) => MappedFile.Parse(path, file =>
    {
        var (tensors, metadata) = ReadShard(file);
        return new TensorFile(path, TensorFileFormat.Safetensors, tensors, metadata, [file]);
    });

    private static TensorFile OpenIndex(string indexPath)
    {
        JsonElement root = ParseJsonFile(indexPath);
        ModelFormatException Error(string problem) => new(indexPath, problem);
        if (root.ValueKind != JsonValueKind.Object) throw Error("index is not a JSON object");
        if (!root.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
            throw Error("index has no 'weight_map' object");

        var metadata = new Dictionary<string, MetadataValue>(StringComparer.Ordinal);
        if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in meta.EnumerateObject())
                metadata[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString()!,
                    JsonValueKind.Number when p.Value.TryGetInt64(out var l) => l,
                    JsonValueKind.Number => p.Value.GetDouble(),
                    JsonValueKind.True or JsonValueKind.False => p.Value.GetBoolean(),
                    _ => p.Value.GetRawText(),
                };
        }

        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        var shardOrder = new List<string>();
        foreach (var p in weightMap.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw Error($"weight_map entry '{p.Name}' is not a file name");
            var shard = p.Value.GetString()!;
            // Shards must sit beside the index: a path here could point anywhere on disk.
            if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                throw Error($"weight_map entry '{p.Name}' names '{shard}', which is not a plain file name");
            if (!wanted.TryAdd(p.Name, shard)) throw Error($"weight_map lists '{p.Name}' twice");
            if (!shardOrder.Contains(shard)) shardOrder.Add(shard);
        }

        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var opened = new List<IDisposable>();
        try
        {
            var tensors = new List<Tensor>();
            foreach (var shard in shardOrder)
            {
                var file = MappedFile.Open(System.IO.Path.Combine(dir, shard));
                opened.Add(file);
                var (shardTensors, shardMetadata) = ReadShard(file);
                foreach (var t in shardTensors)
                {
                    if (!wanted.TryGetValue(t.Name!, out var owner))
                        throw Error($"shard '{shard}' holds tensor '{t.Name}', which weight_map does not list");
                    if (owner != shard)
                        throw Error($"tensor '{t.Name}' is in shard '{shard}' but weight_map puts it in '{owner}'");
                    tensors.Add(t);
                }
                foreach (var (k, v) in shardMetadata) metadata.TryAdd(k, v);
            }
            var found = tensors.Select(t => t.Name!).ToHashSet(StringComparer.Ordinal);
            var missing = wanted.Keys.FirstOrDefault(n => !found.Contains(n));
            if (missing is not null) throw Error($"tensor '{missing}' is not in its shard '{wanted[missing]}'");
            return new TensorFile(indexPath, TensorFileFormat.Safetensors, tensors, metadata, opened);
        }
        catch
        {
            foreach (var o in opened) o.Dispose();
            throw;
        }
    }

    private static (List<Tensor> Tensors, Dictionary<string, MetadataValue> Metadata) ReadShard(MappedFile file)
    {
        var cursor = file.Cursor();
        ulong headerLength = cursor.ReadU64("header length");
        if (headerLength > MaxHeaderBytes)
            throw cursor.Error($"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        if ((long)headerLength > cursor.Remaining)
            throw cursor.Error($"header length {headerLength} exceeds the {cursor.Remaining} bytes after the length field");
        var headerBytes = cursor.ReadBytes((long)headerLength, "JSON header").ToArray();
        long dataStart = cursor.Position;
        long dataLength = file.Length - dataStart;

        JsonElement header = ParseJson(headerBytes, file.Path);
        if (header.ValueKind != JsonValueKind.Object) throw cursor.Error("header is not a JSON object");

        var metadata = new Dictionary<string, MetadataValue>(StringComparer.Ordinal);
        var entries = new List<(string Name, DType DType, int[] Shape, long Begin, long End)>();
        foreach (var p in header.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                if (p.Value.ValueKind != JsonValueKind.Object) throw cursor.Error("__metadata__ is not an object");
                foreach (var m in p.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw cursor.Error($"__metadata__ value '{m.Name}' is not a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            entries.Add(ParseEntry(p.Name, p.Value, dataLength, cursor.Error));
        }

        // Tensors must tile the data region in offset order.
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < expected)
                throw cursor.Error($"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] overlap the previous tensor, which ends at {expected}");
            if (e.Begin > expected)
                throw cursor.Error($"tensor '{e.Name}' data_offsets [{e.Begin}, {e.End}] leave a gap after offset {expected}");
            expected = e.End;
        }
        if (expected != dataLength)
            throw cursor.Error($"tensors cover {expected} bytes but the data region holds {dataLength}");

        var tensors = entries.Select(e => file.Tensor(e.Name, dataStart + e.Begin, e.Shape, e.DType)).ToList();
        return (tensors, metadata);
    }

    private static (string, DType, int[], long, long) ParseEntry(string name, JsonElement v, long dataLength,
        Func<string, ModelFormatException> error)
    {
        if (v.ValueKind != JsonValueKind.Object) throw error($"tensor '{name}' entry is not an object");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw error($"tensor '{name}' has no string 'dtype'");
        var dtypeName = dtypeEl.GetString()!;
        if (!DTypeSizes.TryGetValue(dtypeName, out int elementSize))
            throw error($"tensor '{name}' has unknown dtype '{dtypeName}'");
        DType dtype = dtypeName switch
        {
            "F32" => DType.F32,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            _ => throw error($"tensor '{name}' has dtype {dtypeName}; only F32, F16 and BF16 are supported"),
        };
        var dims = ReadIntegers(v, "shape", name, error, null);
        var shape = Shapes.Validate(dims, name, error);
        var offsets = ReadIntegers(v, "data_offsets", name, error, 2);
        long begin = offsets[0], end = offsets[1];
        if (begin < 0 || end < begin)
            throw error($"tensor '{name}' has invalid data_offsets [{begin}, {end}]");
        if (end > dataLength)
            throw error($"tensor '{name}' data_offsets [{begin}, {end}] exceed the data region of {dataLength} bytes");
        long bytes = (long)Shapes.ElementCount(shape) * elementSize;
        if (end - begin != bytes)
            throw error($"tensor '{name}' data_offsets [{begin}, {end}] span {end - begin} bytes but {dtypeName} shape {Tensor.Format(shape)} needs {bytes}");
        return (name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(JsonElement entry, string property, string tensor,
        Func<string, ModelFormatException> error, int? count)
    {
        if (!entry.TryGetProperty(property, out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw error($"tensor '{tensor}' has no '{property}' array");
        var values = new long[arr.GetArrayLength()];
        if (count is int c && values.Length != c)
            throw error($"tensor '{tensor}' '{property}' has {values.Length} entries, expected {c}");
        int i = 0;
        foreach (var item in arr.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i]))
                throw error($"tensor '{tensor}' '{property}' entry {item.GetRawText()} is not an integer");
            i++;
        }
        return values;
    }

    /// <summary>Parses a JSON file into a detached element; unreadable files and bad JSON become <see cref="ModelFormatException"/>.</summary>
    internal static JsonElement ParseJsonFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
        return ParseJson(bytes, path);
    }

    private static JsonElement ParseJson(byte[] bytes, string path)
    {
        // JsonDocument defers UTF-8 checks of strings until they are read, and then throws InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelFormatException(path, "JSON is not valid UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"invalid JSON: {e.Message}", e);
        }
    }
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Reads GGUF v2/v3 files: metadata (all value types, including the tokenizer's string arrays) and tensors.
/// Tensors are mapped without copying. Quantized ones (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) stay in their blocks and the
/// quantized kernels read them as they are; by default their bytes are read once into memory backed by huge pages
/// (<see cref="MappedFile.ReadResident"/>), which decode streams faster than the page cache's small pages;
/// <see cref="WeightsVariable"/>=mapped keeps them in the map (for files larger than memory).
/// Tensor shapes are reported row-major, i.e. ggml's ne[] reversed (a [n_out, n_in] weight has ne = {n_in, n_out}).
/// </summary>
/// <remarks>
/// Layout: "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata (string key, u32 type, value),
/// tensor infos (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset), padding to
/// <c>general.alignment</c> (default 32), data section. Strings are u64 length + UTF-8 bytes.
/// For llama-architecture files, q/k weights are in Meta's interleaved-pair RoPE layout (llama.cpp's converters
/// undo Hugging Face's rotate-half permutation, and the llama2c converter copies as is): the shared
/// stories260K.gguf equals the llama2.c checkpoint tensor for tensor, with the tied classifier written out as
/// <c>output.weight</c>.
/// </remarks>
public static class GgufReader
{
    public const uint Magic = 0x46554747; // "GGUF" read little-endian
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";

    /// <summary>ggml tensors have at most four dimensions.</summary>
    public const int MaxDims = 4;

    /// <summary>Arrays of arrays deeper than this are refused so a crafted file cannot exhaust the stack.</summary>
    private const int MaxArrayDepth = 8;

    /// <summary>The environment variable that says where quantized tensors live: <c>resident</c> (the default) or <c>mapped</c>.</summary>
    public const string WeightsVariable = "PINPOINT_QUANTIZED_WEIGHTS";

    public static TensorFile Open(string path) => Open(path, ResidentWeights(Environment.GetEnvironmentVariable(WeightsVariable)));

    /// <summary>Reads <paramref name="path"/>, its quantized tensors read into memory when <paramref name="residentWeights"/>, else left in the map.</summary>
    public static TensorFile Open(string path, bool residentWeights) => MappedFile.Parse(path, file => Read(file, residentWeights));

    /// <summary>Whether <paramref name="requested"/> (the variable's value) reads quantized tensors into memory; an unknown value is an <see cref="ArgumentException"/> naming the variable.</summary>
    public static bool ResidentWeights(string? requested) => requested?.ToLowerInvariant() switch
    {
        null or "" or "resident" => true,
        "mapped" => false,
        _ => throw new ArgumentException($"{WeightsVariable}={requested} is not a place for quantized weights (use resident or mapped; or unset it)"),
    };

    private sealed record Info(string Name, long[] Ne, uint TypeId, ulong Offset);

    private static unsafe TensorFile Read(MappedFile file, bool residentWeights)
    {
        var c = file.Cursor();
        uint magic = c.ReadU32("magic");
        if (magic != Magic) throw c.Error($"not a GGUF file (magic 0x{magic:X8})");
        uint version = c.ReadU32("version");
        if (version is not (2 or 3))
        {
            throw c.Error(version switch
            {
                1 => "GGUF version 1 is not supported (re-convert the model)",
                _ when version > 0xFFFF && System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version) is 2 or 3 => "big-endian GGUF is not supported",
                _ => $"unsupported GGUF version {version}",
            });
        }
        ulong tensorCount = c.ReadU64("tensor count");
        ulong kvCount = c.ReadU64("metadata count");
        // Smallest possible entries: a key/name (8-byte length) plus type and value/shape fields.
        if (kvCount > (ulong)c.Remaining / 13)
            throw c.Error($"metadata count {kvCount} cannot fit in the remaining {c.Remaining} bytes");
        if (tensorCount > (ulong)c.Remaining / 24)
            throw c.Error($"tensor count {tensorCount} cannot fit in the remaining {c.Remaining} bytes");

        var metadata = new Dictionary<string, MetadataValue>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            long at = c.Position;
            var key = ReadString(c, "metadata key");
            var type = c.ReadU32($"type of metadata '{key}'");
            var value = ReadValue(c, type, key, 0);
            if (!metadata.TryAdd(key, value)) throw c.Error($"metadata key '{key}' at offset {at} appears twice");
        }

        uint alignment = DefaultAlignment;
        if (metadata.TryGetValue(AlignmentKey, out var alignValue))
        {
            if (alignValue.Type != MetadataType.UInt32) throw c.Error($"{AlignmentKey} is {alignValue.Describe()}, expected UInt32");
            alignment = (uint)alignValue.Value;
            if (!uint.IsPow2(alignment) || alignment > 1 << 20)
                throw c.Error($"{AlignmentKey} {alignment} is not a power of two up to 2^20");
        }

        var infos = new List<Info>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = ReadString(c, $"name of tensor {i}");
            uint nDims = c.ReadU32($"n_dims of tensor '{name}'");
            if (nDims > MaxDims) throw c.Error($"tensor '{name}' has {nDims} dimensions; ggml allows at most {MaxDims}");
            var ne = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong v = c.ReadU64($"dimension {d} of tensor '{name}'");
                if (v > int.MaxValue) throw c.Error($"tensor '{name}' dimension {d} is {v}");
                ne[d] = (long)v;
            }
            uint typeId = c.ReadU32($"type of tensor '{name}'");
            ulong offset = c.ReadU64($"offset of tensor '{name}'");
            infos.Add(new Info(name, ne, typeId, offset));
        }

        long dataStart = (c.Position + alignment - 1) / alignment * alignment;
        if (infos.Count > 0 && dataStart > file.Length)
            throw c.Error($"data section would start at {dataStart}, beyond the end of the file ({file.Length} bytes)");
        long dataLength = Math.Max(0, file.Length - dataStart);

        var placed = new List<(Info Info, DType Type, int[] Shape, long Bytes)>(infos.Count);
        foreach (var info in infos)
        {
            var type = (GgmlType)info.TypeId;
            if (!GgufQuantization.IsSupported(type))
            {
                var known = Enum.IsDefined(type) ? $"{type} ({info.TypeId})" : $"unknown type id {info.TypeId}";
                throw c.Error($"tensor '{info.Name}' has ggml type {known}; supported are {GgufQuantization.SupportedList}");
            }
            var dtype = GgufQuantization.ToDType(type);
            var logical = info.Ne.Reverse().ToArray();
            var shape = Shapes.Validate(logical, info.Name, c.Error);
            long count = Shapes.ElementCount(shape);
            int blockElements = dtype.BlockElements();
            long rowLength = info.Ne.Length > 0 ? info.Ne[0] : 1;
            if (rowLength % blockElements != 0)
                throw c.Error($"tensor '{info.Name}' rows of {rowLength} values are not a whole number of {type} blocks of {blockElements}");
            long bytes = dtype.ByteCount(count);
            if (info.Offset % alignment != 0)
                throw c.Error($"tensor '{info.Name}' offset {info.Offset} is not a multiple of the alignment {alignment}");
            if (info.Offset > (ulong)dataLength || bytes > dataLength - (long)info.Offset)
                throw c.Error($"tensor '{info.Name}' needs {bytes} bytes at offset {info.Offset}, which exceeds the data section of {dataLength} bytes");
            placed.Add((info, dtype, shape, bytes));
        }

        long end = 0;
        string? previous = null;
        foreach (var p in placed.OrderBy(p => p.Info.Offset))
        {
            if ((long)p.Info.Offset < end)
                throw c.Error($"tensor '{p.Info.Name}' at offset {p.Info.Offset} overlaps tensor '{previous}', which ends at {end}");
            end = (long)p.Info.Offset + p.Bytes;
            previous = p.Info.Name;
        }

        var quantized = residentWeights ? placed.Where(p => p.Type.IsQuantized()).ToList() : [];
        var resident = file.ReadResident(quantized.Select(p => (dataStart + (long)p.Info.Offset, p.Bytes)).ToList());
        var residentAt = new Dictionary<string, nint>();
        for (int i = 0; i < quantized.Count; i++) residentAt[quantized[i].Info.Name] = (nint)resident[i];
        var tensors = placed.Select(p => file.Tensor(p.Info.Name, dataStart + (long)p.Info.Offset, p.Shape, p.Type,
            residentAt.TryGetValue(p.Info.Name, out var at) ? (byte*)at : null)).ToList();
        return new TensorFile(file.Path, TensorFileFormat.Gguf, tensors, metadata, [file]);
    }

    private static string ReadString(BinaryCursor c, string what, bool strict = true)
    {
        ulong length = c.ReadU64($"length of {what}");
        if (length > (ulong)c.Remaining)
            throw c.Error($"{what} of {length} bytes at offset {c.Position - 8} runs past the end of the file");
        return c.ReadUtf8((long)length, what, strict);
    }

    private static MetadataValue ReadValue(BinaryCursor c, uint typeId, string key, int depth)
    {
        var what = $"metadata '{key}'";
        return (MetadataType)typeId switch
        {
            MetadataType.UInt8 => MetadataValue.From(c.ReadU8(what)),
            MetadataType.Int8 => MetadataValue.From(c.ReadI8(what)),
            MetadataType.UInt16 => MetadataValue.From(c.ReadU16(what)),
            MetadataType.Int16 => MetadataValue.From(c.ReadI16(what)),
            MetadataType.UInt32 => MetadataValue.From(c.ReadU32(what)),
            MetadataType.Int32 => MetadataValue.From(c.ReadI32(what)),
            MetadataType.Float32 => MetadataValue.From(c.ReadF32(what)),
            MetadataType.Bool => MetadataValue.From(ReadBool(c, what)),
            MetadataType.String => MetadataValue.From(ReadString(c, what, strict: false)),
            MetadataType.UInt64 => MetadataValue.From(c.ReadU64(what)),
            MetadataType.Int64 => MetadataValue.From(c.ReadI64(what)),
            MetadataType.Float64 => MetadataValue.From(c.ReadF64(what)),
            MetadataType.Array => ReadArray(c, key, depth),
            _ => throw c.Error($"{what} has unknown value type {typeId}"),
        };
    }

    private static bool ReadBool(BinaryCursor c, string what)
    {
        byte b = c.ReadU8(what);
        return b <= 1 ? b == 1 : throw c.Error($"{what} bool byte is {b}, expected 0 or 1");
    }

    private static MetadataValue ReadArray(BinaryCursor c, string key, int depth)
    {
        if (depth >= MaxArrayDepth) throw c.Error($"metadata '{key}' nests arrays deeper than {MaxArrayDepth}");
        var what = $"metadata '{key}'";
        uint elementTypeId = c.ReadU32($"element type of {what}");
        ulong count = c.ReadU64($"length of {what}");
        var elementType = (MetadataType)elementTypeId;
        long minElementBytes = elementType switch
        {
            MetadataType.UInt8 or MetadataType.Int8 or MetadataType.Bool => 1,
            MetadataType.UInt16 or MetadataType.Int16 => 2,
            MetadataType.UInt32 or MetadataType.Int32 or MetadataType.Float32 => 4,
            MetadataType.UInt64 or MetadataType.Int64 or MetadataType.Float64 or MetadataType.String => 8,
            MetadataType.Array => 12,
            _ => throw c.Error($"{what} has unknown array element type {elementTypeId}"),
        };
        if (count > (ulong)(c.Remaining / minElementBytes))
            throw c.Error($"{what} claims {count} elements, more than the remaining {c.Remaining} bytes can hold");
        int n = (int)count;
        string item = $"element of {what}";
        return elementType switch
        {
            MetadataType.UInt8 => MetadataValue.From(c.ReadBytes(n, what).ToArray()),
            MetadataType.Int8 => MetadataValue.From(Fill(n, _ => c.ReadI8(item))),
            MetadataType.UInt16 => MetadataValue.From(Fill(n, _ => c.ReadU16(item))),
            MetadataType.Int16 => MetadataValue.From(Fill(n, _ => c.ReadI16(item))),
            MetadataType.UInt32 => MetadataValue.From(Fill(n, _ => c.ReadU32(item))),
            MetadataType.Int32 => MetadataValue.From(Fill(n, _ => c.ReadI32(item))),
            MetadataType.Float32 => MetadataValue.From(Fill(n, _ => c.ReadF32(item))),
            MetadataType.Bool => MetadataValue.From(Fill(n, _ => ReadBool(c, item))),
            MetadataType.String => MetadataValue.From(Fill(n, _ => ReadString(c, item, strict: false))),
            MetadataType.UInt64 => MetadataValue.From(Fill(n, _ => c.ReadU64(item))),
            MetadataType.Int64 => MetadataValue.From(Fill(n, _ => c.ReadI64(item))),
            MetadataType.Float64 => MetadataValue.From(Fill(n, _ => c.ReadF64(item))),
            _ => MetadataValue.FromArrays(Fill(n, _ => ReadArray(c, key, depth + 1))),
        };
    }

    private static T[] Fill<T>(int n, Func<int, T> read)
    {
        var values = new T[n];
        for (int i = 0; i < n; i++) values[i] = read(i);
        return values;
    }
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

public enum TensorFileFormat
{
    Safetensors,
    Gguf,
    Llama2c,
}

/// <summary>
/// Named tensors loaded from a model file (or a sharded set), with the file's metadata. Shapes are logical and
/// row-major (GGUF's ggml dimension order is reversed). Unquantized tensors usually point straight into memory
/// maps, so they are valid only until this object is disposed.
/// </summary>
public sealed class TensorFile : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;
    private readonly IReadOnlyList<IDisposable> _owned;

    /// <summary>The file that was opened (for sharded safetensors, the index file).</summary>
    public string Path { get; }

    public TensorFileFormat Format { get; }

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> Names { get; }

    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    public IReadOnlyDictionary<string, MetadataValue> Metadata { get; }

    internal TensorFile(string path, TensorFileFormat format, IReadOnlyList<Tensor> tensors,
        IReadOnlyDictionary<string, MetadataValue> metadata, IReadOnlyList<IDisposable> owned)
    {
        Path = path;
        Format = format;
        _owned = owned;
        _tensors = new Dictionary<string, Tensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!_tensors.TryAdd(t.Name!, t))
                throw new ModelFormatException(path, $"tensor '{t.Name}' appears more than once");
        }
        Names = tensors.Select(t => t.Name!).ToArray();
        Metadata = metadata;
    }

    /// <summary>
    /// Opens a GGUF file (recognised by its magic), safetensors (<c>.safetensors</c>, an index <c>.json</c>, or a
    /// file whose JSON header starts at byte 8) or otherwise a llama2.c checkpoint. The extension wins over
    /// sniffing so a damaged safetensors header is reported as such, not as a bad llama2.c file.
    /// </summary>
    public static TensorFile Open(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return SafetensorsReader.Open(path);
        Span<byte> head = stackalloc byte[9];
        int read;
        try
        {
            using var stream = File.OpenRead(path);
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
        head = head[..read];
        if (head.StartsWith("GGUF"u8)) return GgufReader.Open(path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || (read == 9 && head[8] == (byte)'{'))
            return SafetensorsReader.Open(path);
        return Llama2cReader.Open(path);
    }

    /// <summary>The named tensor, or a <see cref="ModelFormatException"/> naming the missing tensor.</summary>
    public Tensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new ModelFormatException(Path, $"no tensor named '{name}'");

    public bool TryGetTensor(string name, out Tensor tensor) => _tensors.TryGetValue(name, out tensor!);

    public bool HasMetadata(string key) => Metadata.ContainsKey(key);

    public string GetString(string key) => Get(key, v => v.AsString());
    public long GetInt64(string key) => Get(key, v => v.ToInt64());
    public double GetDouble(string key) => Get(key, v => v.ToDouble());
    public bool GetBool(string key) => Get(key, v => v.ToBool());
    public string[] GetStringArray(string key) => Get(key, v => v.ToStringArray());
    public float[] GetFloatArray(string key) => Get(key, v => v.ToFloatArray());
    public int[] GetInt32Array(string key) => Get(key, v => v.ToInt32Array());

    private T Get<T>(string key, Func<MetadataValue, T> convert)
    {
        if (!Metadata.TryGetValue(key, out var value))
            throw new ModelFormatException(Path, $"metadata '{key}' is missing");
        try
        {
            return convert(value);
        }
        catch (InvalidCastException e)
        {
            throw new ModelFormatException(Path, $"metadata '{key}': {e.Message}", e);
        }
    }

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }
}

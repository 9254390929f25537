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
    /// Opens a GGUF file, safetensors (a file or a sharded set's index .json) or a llama2.c checkpoint, recognised by
    /// content (<see cref="FileKinds"/>). When the content fits no kind, the extension picks the reader that names
    /// the damage (a .safetensors header, a .bin header); any other file is reported as not a model file.
    /// </summary>
    public static TensorFile Open(string path)
    {
        var kind = FileKinds.Detect(path);
        var extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        return kind switch
        {
            FileKind.Gguf => GgufReader.Open(path),
            FileKind.Safetensors or FileKind.SafetensorsIndex => SafetensorsReader.Open(path),
            FileKind.Llama2cCheckpoint => Llama2cReader.Open(path),
            _ when extension == ".gguf" => throw new ModelFormatException(path, "not a GGUF file: it does not start with the magic 'GGUF'"),
            _ when extension == ".safetensors" => SafetensorsReader.Open(path),
            FileKind.Unknown or FileKind.OtherJson when extension == ".json" => SafetensorsReader.Open(path),
            FileKind.Unknown when extension == ".bin" => Llama2cReader.Open(path),
            _ => throw new ModelFormatException(path,
                $"not a model file: it is {FileKinds.Describe(kind)}, not GGUF, safetensors or a llama2.c checkpoint"),
        };
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

using System.Text;
using System.Text.Json;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Writes named tensors (any dtype in memory, stored as F32, F16 or BF16) plus string metadata as a safetensors
/// file readable by <see cref="SafetensorsReader"/> and the Hugging Face libraries. The file appears atomically.
/// </summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, DType storeAs = DType.F32)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
        {
            if (name == "__metadata__" || !names.Add(name))
                throw new ArgumentException($"tensor name '{name}' is reserved or repeated", nameof(tensors));
        }
        string dtypeName = storeAs switch
        {
            DType.F32 => "F32",
            DType.F16 => "F16",
            DType.BF16 => "BF16",
            _ => throw new ArgumentOutOfRangeException(nameof(storeAs), storeAs, null),
        };

        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in list)
            {
                long bytes = (long)tensor.Size * storeAs.SizeInBytes();
                json.WriteStartObject(name);
                json.WriteString("dtype", dtypeName);
                json.WriteStartArray("shape");
                foreach (var d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces so the data region starts 8-byte aligned, as the reference writer does.
        while ((8 + header.Length) % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write((ulong)header.Length);
            writer.Write(header.GetBuffer(), 0, (int)header.Length);
            foreach (var (_, tensor) in list) ValueEncoding.WriteValues(writer, tensor, storeAs);
        });
    }
}

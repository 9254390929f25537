using System.Text;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// A tensor to write to GGUF: logical row-major shape, stored as F32, F16 or a quantized type (Q8_0, Q4_0, Q4_K,
/// Q5_K, Q6_K: a tensor already held in that type is written as its blocks, anything else is quantized).
/// </summary>
public sealed record GgufTensorData(string Name, Tensor Tensor, GgmlType Type = GgmlType.F32);

/// <summary>
/// Writes GGUF v3 files (metadata of every value type; F32, F16 and quantized tensors) that llama.cpp and
/// <see cref="GgufReader"/> load. Alignment is <c>general.alignment</c> when given (UInt32), else 32. The file
/// appears atomically.
/// </summary>
public static class GgufWriter
{
    public const uint Version = 3;

    public static void Write(string path, IEnumerable<KeyValuePair<string, MetadataValue>> metadata, IEnumerable<GgufTensorData> tensors)
    {
        var kvs = metadata.ToList();
        var list = tensors.ToList();
        if (kvs.Select(kv => kv.Key).Distinct(StringComparer.Ordinal).Count() != kvs.Count)
            throw new ArgumentException("metadata keys must be unique", nameof(metadata));
        if (list.Select(t => t.Name).Distinct(StringComparer.Ordinal).Count() != list.Count)
            throw new ArgumentException("tensor names must be unique", nameof(tensors));
        uint alignment = GgufReader.DefaultAlignment;
        if (kvs.FirstOrDefault(kv => kv.Key == GgufReader.AlignmentKey).Value is { } a)
        {
            if (a.Type != MetadataType.UInt32 || !uint.IsPow2((uint)a.Value))
                throw new ArgumentException($"{GgufReader.AlignmentKey} must be a UInt32 power of two", nameof(metadata));
            alignment = (uint)a.Value;
        }
        foreach (var t in list)
        {
            if (t.Type == GgmlType.BF16 || !GgufQuantization.IsSupported(t.Type))
                throw new ArgumentException($"tensor '{t.Name}': {t.Type} cannot be written (F32, F16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K can)", nameof(tensors));
            if (t.Tensor.Rank > GgufReader.MaxDims)
                throw new ArgumentException($"tensor '{t.Name}' has rank {t.Tensor.Rank}; GGUF allows at most {GgufReader.MaxDims}", nameof(tensors));
            int block = GgufQuantization.ToDType(t.Type).BlockElements();
            if (block > 1 && (t.Tensor.Rank == 0 || t.Tensor.Dim(-1) % block != 0))
                throw new ArgumentException($"tensor '{t.Name}' {t.Tensor.ShapeString}: rows are not a whole number of {t.Type} blocks of {block}", nameof(tensors));
        }

        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            w.Write(GgufReader.Magic);
            w.Write(Version);
            w.Write((ulong)list.Count);
            w.Write((ulong)kvs.Count);
            foreach (var (key, value) in kvs)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WriteValue(w, value);
            }
            long offset = 0;
            var offsets = new List<long>();
            foreach (var t in list)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Tensor.Rank);
                // ggml lists dimensions innermost first.
                for (int d = t.Tensor.Rank - 1; d >= 0; d--) w.Write((ulong)t.Tensor.Shape[d]);
                w.Write((uint)t.Type);
                w.Write((ulong)offset);
                offsets.Add(offset);
                offset = Align(offset + GgufQuantization.ToDType(t.Type).ByteCount(t.Tensor.Size), alignment);
            }
            Pad(w, alignment);
            long dataStart = stream.Position;
            for (int i = 0; i < list.Count; i++)
            {
                Pad(w, dataStart + offsets[i] - stream.Position);
                var dtype = GgufQuantization.ToDType(list[i].Type);
                if (dtype.IsQuantized()) w.Write(Blocks(list[i].Tensor, dtype));
                else ValueEncoding.WriteValues(w, list[i].Tensor, dtype);
            }
            Pad(w, alignment);
        });
    }

    /// <summary>The tensor's blocks: its own when it already holds <paramref name="dtype"/> contiguously, else its values quantized.</summary>
    private static ReadOnlySpan<byte> Blocks(Tensor t, DType dtype)
    {
        if (t.DType == dtype && t.IsContiguous)
            return t.Storage.AsBytes().Slice((int)dtype.ByteCount(t.Offset), (int)dtype.ByteCount(t.Size));
        var blocks = new byte[dtype.ByteCount(t.Size)];
        BlockQuantization.Quantize(dtype, t.ToArray(), blocks);
        return blocks;
    }

    private static long Align(long value, uint alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>Zero bytes up to the next multiple of <paramref name="alignment"/>.</summary>
    private static void Pad(BinaryWriter w, uint alignment) => Pad(w, Align(w.BaseStream.Position, alignment) - w.BaseStream.Position);

    private static void Pad(BinaryWriter w, long count)
    {
        for (long i = 0; i < count; i++) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, MetadataValue value)
    {
        if (value.Type == MetadataType.Array)
        {
            var array = (Array)value.Value;
            w.Write((uint)value.ElementType);
            w.Write((ulong)array.Length);
            foreach (var item in array)
            {
                if (item is MetadataValue nested)
                {
                    // Nested arrays carry their own element type and length.
                    WriteValue(w, nested);
                    continue;
                }
                WriteScalar(w, value.ElementType, item);
            }
            return;
        }
        WriteScalar(w, value.Type, value.Value);
    }

    private static void WriteScalar(BinaryWriter w, MetadataType type, object v)
    {
        switch (type)
        {
            case MetadataType.UInt8: w.Write((byte)v); break;
            case MetadataType.Int8: w.Write((sbyte)v); break;
            case MetadataType.UInt16: w.Write((ushort)v); break;
            case MetadataType.Int16: w.Write((short)v); break;
            case MetadataType.UInt32: w.Write((uint)v); break;
            case MetadataType.Int32: w.Write((int)v); break;
            case MetadataType.Float32: w.Write((float)v); break;
            case MetadataType.Bool: w.Write((bool)v ? (byte)1 : (byte)0); break;
            case MetadataType.String: WriteString(w, (string)v); break;
            case MetadataType.UInt64: w.Write((ulong)v); break;
            case MetadataType.Int64: w.Write((long)v); break;
            case MetadataType.Float64: w.Write((double)v); break;
            default: throw new ArgumentException($"cannot write metadata of type {type}");
        }
    }
}

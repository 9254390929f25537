namespace Pinpoint.Models.Formats;

/// <summary>
/// Writes a file through a temporary sibling and a rename, so readers (and a crash mid-write, e.g. while saving a
/// training checkpoint) only ever see the old file or the complete new one.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = System.IO.Path.GetFullPath(path);
        var temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Converts float32 to bfloat16 bits with round-to-nearest-even; NaNs stay NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Writes a tensor's values as little-endian F32, F16 or BF16.</summary>
    public static void WriteValues(BinaryWriter writer, Pinpoint.Engine.Tensors.Tensor tensor, Pinpoint.Engine.Tensors.DType dtype)
    {
        var values = new float[tensor.Size];
        tensor.CopyTo(values);
        foreach (var v in values)
        {
            switch (dtype)
            {
                case Pinpoint.Engine.Tensors.DType.F32: writer.Write(v); break;
                case Pinpoint.Engine.Tensors.DType.F16: writer.Write(BitConverter.HalfToUInt16Bits((Half)v)); break;
                default: writer.Write(ToBFloat16(v)); break;
            }
        }
    }
}

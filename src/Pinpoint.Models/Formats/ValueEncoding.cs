using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>Encodes tensor values for the writers.</summary>
internal static class ValueEncoding
{
    /// <summary>Converts float32 to bfloat16 bits with round-to-nearest-even; NaNs stay NaN.</summary>
    public static ushort ToBFloat16(float value) => HalfConversion.FromSingle(value, DType.BF16);

    /// <summary>Writes a tensor's values as little-endian F32, F16 or BF16.</summary>
    public static void WriteValues(BinaryWriter writer, Tensor tensor, DType dtype)
    {
        var values = new float[tensor.Size];
        tensor.CopyTo(values);
        foreach (var v in values)
        {
            switch (dtype)
            {
                case DType.F32: writer.Write(v); break;
                case DType.F16: writer.Write(BitConverter.HalfToUInt16Bits((Half)v)); break;
                default: writer.Write(ToBFloat16(v)); break;
            }
        }
    }
}

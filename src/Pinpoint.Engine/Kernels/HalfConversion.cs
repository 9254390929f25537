using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>bf16/f16 → f32 conversion. bf16 is the top half of an f32; f16 goes through <see cref="Half"/>.</summary>
public static class HalfConversion
{
    public static float ToSingle(ushort bits, DType dtype) => dtype switch
    {
        DType.BF16 => BitConverter.Int32BitsToSingle(bits << 16),
        DType.F16 => (float)BitConverter.UInt16BitsToHalf(bits),
        _ => throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype)),
    };

    public static void ToSingle(ReadOnlySpan<ushort> source, DType dtype, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination of {destination.Length} elements is shorter than source of {source.Length}", nameof(destination));
        for (int i = 0; i < source.Length; i++) destination[i] = ToSingle(source[i], dtype);
    }
}

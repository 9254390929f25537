using System.Runtime.CompilerServices;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// bf16/f16 ↔ f32 conversion. bf16 is the top half of an f32. f16 is rebuilt from its fields with integer
/// operations (.NET exposes no vcvtph2ps), matching <see cref="Half"/>'s conversion bit for bit, subnormals,
/// infinities and (quieted) NaN payloads included.
/// </summary>
public static class HalfConversion
{
    public static float ToSingle(ushort bits, DType dtype) => dtype switch
    {
        DType.BF16 => BitConverter.Int32BitsToSingle(bits << 16),
        DType.F16 => (float)BitConverter.UInt16BitsToHalf(bits),
        _ => throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype)),
    };

    /// <summary>f32 → bf16/f16 bits, rounding to nearest even; NaN stays NaN.</summary>
    public static ushort FromSingle(float value, DType dtype)
    {
        if (dtype == DType.F16) return BitConverter.HalfToUInt16Bits((Half)value);
        if (dtype != DType.BF16) throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static void ToSingle(ReadOnlySpan<ushort> source, DType dtype, Span<float> destination, KernelPath? path = null)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination of {destination.Length} elements is shorter than source of {source.Length}", nameof(destination));
        if (dtype is not (DType.F16 or DType.BF16))
            throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        var map = new Map(source, destination, dtype == DType.F16);
        Simd.For(source.Length, ref map, Simd.Resolve(path));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T HalfToSingle<T>(T h) where T : struct, ISimd<T>
    {
        var sign = T.ShiftLeftBits(T.And(h, T.CreateBits(0x8000)), 16);
        var magnitude = T.And(h, T.CreateBits(0x7FFF));
        var shifted = T.ShiftLeftBits(magnitude, 13);
        // Rebias the exponent by 127 - 15; an all-ones f16 exponent (inf/NaN) must become all-ones in f32,
        // which takes the same offset once more.
        var isInfNan = T.GreaterOrEqualBits(magnitude, T.CreateBits(0x7C00));
        var normal = T.AddBits(shifted, T.CreateBits(112 << 23));
        normal = T.AddBits(normal, T.And(isInfNan, T.CreateBits(112 << 23)));
        // NaNs come out quiet, as Half (and vcvtph2ps) deliver them.
        var isNan = T.GreaterOrEqualBits(magnitude, T.CreateBits(0x7C01));
        normal = T.Or(normal, T.And(isNan, T.CreateBits(0x400000)));
        // Subnormal m·2^-24: set the exponent of 2^-14 under the mantissa and subtract 2^-14 (exact).
        var magic = T.CreateBits(113 << 23);
        var subnormal = T.Or(shifted, magic) - magic;
        var isSubnormal = T.GreaterOrEqualBits(T.CreateBits(0x3FF), magnitude);
        return T.Or(T.Select(isSubnormal, subnormal, normal), sign);
    }

    private readonly ref struct Map(ReadOnlySpan<ushort> source, Span<float> destination, bool f16) : IMap
    {
        private readonly ReadOnlySpan<ushort> _source = source;
        private readonly Span<float> _destination = destination;
        private readonly bool _f16 = f16;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var bits = T.LoadWidened(_source, i);
            T.Store(_f16 ? HalfToSingle(bits) : T.ShiftLeftBits(bits, 16), _destination, i);
        }
    }
}

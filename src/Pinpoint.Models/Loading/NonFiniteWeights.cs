using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;

namespace Pinpoint.Models.Loading;

/// <summary>One NaN or infinite weight: the tensor (as the file names it), the element's flat index and its value.</summary>
public sealed record NonFiniteWeight(string Tensor, long Index, float Value, int CountInTensor)
{
    public override string ToString() =>
        $"tensor '{Tensor}' holds {CountInTensor} non-finite value{(CountInTensor == 1 ? "" : "s")} (the first, {Value}, at element {Index})";
}

/// <summary>
/// Finds NaN and ±infinity in loaded weights, which would otherwise turn every output into NaN without a word.
/// A value is non-finite when its exponent bits are all ones, in f32, f16 and bf16 alike.
/// </summary>
public static class NonFiniteWeights
{
    /// <summary>Every tensor of <paramref name="file"/> that holds a non-finite value, in file order.</summary>
    public static List<NonFiniteWeight> Find(TensorFile file)
    {
        var found = new List<NonFiniteWeight>();
        foreach (var name in file.Names)
        {
            var t = file.Tensors[name];
            if (t.DType.IsQuantized())
            {
                if (ScanQuantized(t) is { Count: > 0 } bad) found.Add(new NonFiniteWeight(name, bad.First, bad.Value, bad.Count));
                continue;
            }
            if (!t.IsContiguous) t = t.Contiguous();
            var (first, count) = t.DType == DType.F32
                ? Scan(MemoryMarshal.Cast<float, uint>(t.Span), 0x7F80_0000u)
                : Scan(t.Storage.AsHalfBits().Slice(t.Offset, t.Size), t.DType == DType.BF16 ? (ushort)0x7F80 : (ushort)0x7C00);
            if (count > 0) found.Add(new NonFiniteWeight(name, first, t.ToArray()[first], count));
        }
        return found;
    }

    /// <summary>
    /// Quantized blocks hold small integers times f16 scales, so only a scale can be non-finite; dequantizing a chunk
    /// at a time checks every format alike without holding the whole tensor in f32.
    /// </summary>
    private static (long First, float Value, int Count) ScanQuantized(Tensor t)
    {
        const int chunk = 1 << 16; // a whole number of blocks of every quantized kind (32 and 256 elements)
        var bytes = t.Storage.AsBytes();
        // Pooled: a 1B model has ~150 quantized tensors, and a fresh chunk each would be 37 MB of large-object garbage.
        var values = ArrayPool<float>.Shared.Rent((int)Math.Min(chunk, t.Size));
        try
        {
            return ScanChunks(t, bytes, values, chunk);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(values);
        }
    }

    private static (long First, float Value, int Count) ScanChunks(Tensor t, ReadOnlySpan<byte> bytes, float[] values, int chunk)
    {
        long first = -1;
        float value = 0;
        int count = 0;
        for (long start = 0; start < t.Size; start += chunk)
        {
            int n = (int)Math.Min(chunk, t.Size - start);
            var block = values.AsSpan(0, n);
            BlockQuantization.Dequantize(t.DType, bytes.Slice((int)t.DType.ByteCount(start), (int)t.DType.ByteCount(n)), block);
            var (f, c) = Scan(MemoryMarshal.Cast<float, uint>(block), 0x7F80_0000u);
            if (c > 0 && first < 0) (first, value) = (start + f, block[f]);
            count += c;
        }
        return (first, value, count);
    }

    /// <summary>The first index whose exponent bits (<paramref name="exponent"/>) are all set, and how many are.</summary>
    public static (int First, int Count) Scan<T>(ReadOnlySpan<T> bits, T exponent) where T : unmanaged, IBinaryInteger<T>
    {
        int first = -1, count = 0, i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            var mask = new Vector<T>(exponent);
            for (; i <= bits.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var hit = Vector.Equals(new Vector<T>(bits[i..]) & mask, mask);
                // Non-finite weights are rare: the vector test skips clean blocks, the scalar loop below counts hits.
                if (hit == Vector<T>.Zero) continue;
                for (int j = i; j < i + Vector<T>.Count; j++) Count(j, bits[j]);
            }
        }
        for (; i < bits.Length; i++) Count(i, bits[i]);
        return (first, count);

        void Count(int index, T value)
        {
            if ((value & exponent) != exponent) return;
            if (count++ == 0) first = index;
        }
    }
}

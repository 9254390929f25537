namespace Pinpoint.Engine.Tensors;

/// <summary>
/// Element types a storage can hold. Compute is always float32; half types are converted on use. The quantized
/// kinds are ggml's block formats (see <see cref="Kernels.BlockQuantization"/>): a row of a weight matrix is a run
/// of fixed-size blocks, read by the quantized kernels in place and dequantized only a tile at a time.
/// </summary>
public enum DType
{
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_K,
    Q5_K,
    Q6_K,
}

public static class DTypeExtensions
{
    public static bool IsQuantized(this DType dtype) => dtype is DType.Q8_0 or DType.Q4_0 or DType.Q4_K or DType.Q5_K or DType.Q6_K;

    /// <summary>Bytes per element of an unquantized type (quantized types are sized per block: <see cref="BlockBytes"/>).</summary>
    public static int SizeInBytes(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F16 or DType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "quantized types have no per-element size"),
    };

    /// <summary>Values per block (1 for unquantized types).</summary>
    public static int BlockElements(this DType dtype) => dtype switch
    {
        DType.F32 or DType.F16 or DType.BF16 => 1,
        DType.Q8_0 or DType.Q4_0 => 32,
        DType.Q4_K or DType.Q5_K or DType.Q6_K => 256,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Bytes per block (the element size for unquantized types).</summary>
    public static int BlockBytes(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.Q8_0 => 2 + 32,
        DType.Q4_0 => 2 + 16,
        DType.Q4_K => 2 + 2 + 12 + 128,
        DType.Q5_K => 2 + 2 + 12 + 32 + 128,
        DType.Q6_K => 128 + 64 + 16 + 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Bytes that <paramref name="elements"/> values occupy; for quantized types a whole number of blocks.</summary>
    public static long ByteCount(this DType dtype, long elements)
    {
        int per = dtype.BlockElements();
        if (elements % per != 0)
            throw new ArgumentException($"{elements} values are not a whole number of {dtype} blocks of {per}", nameof(elements));
        return elements / per * dtype.BlockBytes();
    }
}

using System.Runtime.InteropServices;

namespace Pinpoint.Engine.Tensors;

/// <summary>
/// A flat run of elements: either a slice of a managed float array (F32 only) or raw memory owned by someone
/// else (a memory-mapped file region or native buffer), which may hold F32, F16, BF16 or quantized blocks.
/// </summary>
public sealed unsafe class Storage
{
    private readonly float[]? _array;
    private readonly int _arrayOffset;
    private readonly byte* _pointer;

    /// <summary>Keeps the memory behind <see cref="_pointer"/> alive (e.g. a memory-mapped view).</summary>
    public object? Owner { get; }

    public DType DType { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    public bool IsManaged => _array is not null;

    public Storage(float[] array) : this(array, 0, array.Length) { }

    public Storage(float[] array, int offset, int length)
    {
        ArgumentNullException.ThrowIfNull(array);
        if ((uint)offset > (uint)array.Length || (uint)length > (uint)(array.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length), $"storage slice [{offset}, {offset}+{length}) is outside an array of {array.Length} elements");
        _array = array;
        _arrayOffset = offset;
        Length = length;
        DType = DType.F32;
    }

    /// <summary>Wraps external memory; <paramref name="owner"/> must keep it valid for the storage's lifetime.</summary>
    public Storage(byte* pointer, int length, DType dtype, object? owner)
    {
        if (pointer == null) throw new ArgumentNullException(nameof(pointer));
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (dtype.IsQuantized()) dtype.ByteCount(length); // throws unless a whole number of blocks
        _pointer = pointer;
        Length = length;
        DType = dtype;
        Owner = owner;
    }

    public static Storage Allocate(int length) => new(new float[length]);

    /// <summary>
    /// F16/BF16 storage holding <paramref name="values"/> rounded to nearest even, in a pinned array (a half-size
    /// copy, e.g. an activation cache kept in 16 bits).
    /// </summary>
    public static Storage FromSingles(ReadOnlySpan<float> values, DType dtype)
    {
        if (dtype is not (DType.F16 or DType.BF16)) throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        // One spare element so even an empty tensor has a non-null address.
        var pinned = GC.AllocateUninitializedArray<ushort>(values.Length + 1, pinned: true);
        for (int i = 0; i < values.Length; i++) pinned[i] = Kernels.HalfConversion.FromSingle(values[i], dtype);
        fixed (ushort* p = pinned) return new Storage((byte*)p, values.Length, dtype, pinned);
    }

    /// <summary>
    /// Quantized storage of <paramref name="elements"/> values over a copy of <paramref name="blocks"/> in a pinned
    /// array (the kernels address blocks by pointer, like memory-mapped ones).
    /// </summary>
    public static Storage FromBlocks(ReadOnlySpan<byte> blocks, DType dtype, int elements)
    {
        if (!dtype.IsQuantized()) throw new ArgumentException($"{dtype} is not a quantized type", nameof(dtype));
        long bytes = dtype.ByteCount(elements);
        if (blocks.Length != bytes)
            throw new ArgumentException($"{elements} {dtype} values take {bytes} bytes, got {blocks.Length}", nameof(blocks));
        // One spare byte so even an empty tensor has a non-null address.
        var pinned = GC.AllocateUninitializedArray<byte>(blocks.Length + 1, pinned: true);
        blocks.CopyTo(pinned);
        fixed (byte* p = pinned) return new Storage(p, elements, dtype, pinned);
    }

    /// <summary>The elements as float32. Throws for half-precision storage: convert those with <see cref="Tensor.ToFloat32"/>.</summary>
    public Span<float> AsFloat32()
    {
        if (DType != DType.F32)
            throw new InvalidOperationException($"storage holds {DType}; convert it to F32 before float access");
        return _array is not null
            ? _array.AsSpan(_arrayOffset, Length)
            : new Span<float>(_pointer, Length);
    }

    /// <summary>The raw 16-bit patterns of F16/BF16 storage.</summary>
    public ReadOnlySpan<ushort> AsHalfBits()
    {
        if (DType is not (DType.F16 or DType.BF16))
            throw new InvalidOperationException($"storage holds {DType}, not 16-bit values");
        return new ReadOnlySpan<ushort>(_pointer, Length);
    }

    public ReadOnlySpan<byte> AsBytes() => _array is not null
        ? MemoryMarshal.AsBytes(_array.AsSpan(_arrayOffset, Length))
        : new ReadOnlySpan<byte>(_pointer, checked((int)DType.ByteCount(Length)));
}

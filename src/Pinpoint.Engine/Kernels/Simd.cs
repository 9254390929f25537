using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// The float-vector operations kernels are written against, so each kernel is one generic body instantiated for
/// AVX-512 (<see cref="V512"/>), AVX2 (<see cref="V256"/>), portable 128-bit vectors (<see cref="V128"/>) and one lane (<see cref="V1"/>: the scalar path and
/// every vector path's tail). .NET's own ISimdVector is internal, hence this small interface.
/// Min/Max return <c>b</c> when either operand is NaN (x86 semantics): pass the data as <c>b</c> to keep NaN.
/// The *Bits operations treat lanes as int32.
/// </summary>
internal interface ISimd<T> where T : struct, ISimd<T>
{
    static abstract int Count { get; }
    static abstract T Create(float value);
    static abstract T CreateBits(int bits);
    static abstract T Load(ReadOnlySpan<float> s, int i);
    /// <summary>
    /// Load from a writable span. Not left to the implicit Span→ReadOnlySpan conversion: in a large kernel body the
    /// JIT can run out of inlining budget and leave that conversion as a call inside the loop (spilling every vector).
    /// </summary>
    static abstract T Load(Span<float> s, int i);
    static abstract void Store(T v, Span<float> s, int i);
    /// <summary>Count 16-bit patterns from <paramref name="s"/>[i..], zero-extended into int32 lanes.</summary>
    static abstract T LoadWidened(ReadOnlySpan<ushort> s, int i);
    static abstract T operator +(T a, T b);
    static abstract T operator -(T a, T b);
    static abstract T operator *(T a, T b);
    static abstract T operator /(T a, T b);
    /// <summary>a·b + c with one rounding.</summary>
    static abstract T Fma(T a, T b, T c);
    static abstract T Min(T a, T b);
    static abstract T Max(T a, T b);
    static abstract T Sqrt(T a);
    /// <summary>All-ones lanes where a &lt; b.</summary>
    static abstract T LessThan(T a, T b);
    /// <summary>All-ones lanes where a &lt;= b.</summary>
    static abstract T LessOrEqual(T a, T b);
    /// <summary>Lanes of a where mask is set, else b.</summary>
    static abstract T Select(T mask, T a, T b);
    static abstract T And(T a, T b);
    static abstract T Or(T a, T b);
    /// <summary>a &amp; ~b.</summary>
    static abstract T AndNot(T a, T b);
    static abstract T AddBits(T a, T b);
    static abstract T SubtractBits(T a, T b);
    static abstract T ShiftLeftBits(T a, int n);
    static abstract T ShiftRightArithmeticBits(T a, int n);
    /// <summary>All-ones lanes where int(a) &gt;= int(b).</summary>
    static abstract T GreaterOrEqualBits(T a, T b);
    /// <summary>
    /// The runtime's exp (Vector512.Exp, Vector256.Exp, MathF.Exp), used by attention's softmax. The pointwise kernels
    /// use <see cref="VectorMath.Exp{T}"/> instead, which evaluates one formula on every path.
    /// </summary>
    static abstract T RuntimeExp(T a);
    /// <summary>Swaps neighbouring elements: (x0, x1, x2, x3, ...) → (x1, x0, x3, x2, ...). One lane has no pair.</summary>
    static abstract T SwapPairs(T v);
    static abstract float Sum(T v);
    static abstract float MaxAcross(T v);
}

internal readonly struct V512(Vector512<float> v) : ISimd<V512>
{
    private readonly Vector512<float> _v = v;

    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Create(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 CreateBits(int bits) => new(Vector512.Create(bits).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Load(ReadOnlySpan<float> s, int i) => new(Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Load(Span<float> s, int i) => new(Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V512 v, Span<float> s, int i) => v._v.StoreUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 LoadWidened(ReadOnlySpan<ushort> s, int i)
        => new(Avx512F.ConvertToVector512UInt32(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i)).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator +(V512 a, V512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator -(V512 a, V512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator *(V512 a, V512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator /(V512 a, V512 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Fma(V512 a, V512 b, V512 c) => new(Avx512F.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Min(V512 a, V512 b) => new(Avx512F.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Max(V512 a, V512 b) => new(Avx512F.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Sqrt(V512 a) => new(Avx512F.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 LessThan(V512 a, V512 b) => new(Vector512.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 LessOrEqual(V512 a, V512 b) => new(Vector512.LessThanOrEqual(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Select(V512 mask, V512 a, V512 b) => new(Vector512.ConditionalSelect(mask._v, a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 And(V512 a, V512 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Or(V512 a, V512 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 AndNot(V512 a, V512 b) => new(Vector512.AndNot(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 AddBits(V512 a, V512 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 SubtractBits(V512 a, V512 b) => new((a._v.AsInt32() - b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ShiftLeftBits(V512 a, int n) => new(Vector512.ShiftLeft(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ShiftRightArithmeticBits(V512 a, int n) => new(Vector512.ShiftRightArithmetic(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 GreaterOrEqualBits(V512 a, V512 b) => new(Vector512.GreaterThanOrEqual(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 RuntimeExp(V512 a) => new(Vector512.Exp(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 SwapPairs(V512 v) => new(Avx512F.Permute4x32(v._v, 0b10_11_00_01));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V512 v) => Vector512.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V512 v) => V256.MaxAcross(new V256(Avx.Max(v._v.GetLower(), v._v.GetUpper())));
}

internal readonly struct V256(Vector256<float> v) : ISimd<V256>
{
    private readonly Vector256<float> _v = v;

    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Create(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 CreateBits(int bits) => new(Vector256.Create(bits).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Load(ReadOnlySpan<float> s, int i) => new(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Load(Span<float> s, int i) => new(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V256 v, Span<float> s, int i) => v._v.StoreUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 LoadWidened(ReadOnlySpan<ushort> s, int i)
        => new(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i)).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator +(V256 a, V256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator -(V256 a, V256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator *(V256 a, V256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator /(V256 a, V256 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Fma(V256 a, V256 b, V256 c) => new(System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Min(V256 a, V256 b) => new(Avx.Min(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Max(V256 a, V256 b) => new(Avx.Max(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Sqrt(V256 a) => new(Avx.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 LessThan(V256 a, V256 b) => new(Vector256.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 LessOrEqual(V256 a, V256 b) => new(Vector256.LessThanOrEqual(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Select(V256 mask, V256 a, V256 b) => new(Vector256.ConditionalSelect(mask._v, a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 And(V256 a, V256 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Or(V256 a, V256 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 AndNot(V256 a, V256 b) => new(Vector256.AndNot(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 AddBits(V256 a, V256 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 SubtractBits(V256 a, V256 b) => new((a._v.AsInt32() - b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ShiftLeftBits(V256 a, int n) => new(Vector256.ShiftLeft(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ShiftRightArithmeticBits(V256 a, int n) => new(Vector256.ShiftRightArithmetic(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 GreaterOrEqualBits(V256 a, V256 b) => new(Vector256.GreaterThanOrEqual(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 RuntimeExp(V256 a) => new(Vector256.Exp(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 SwapPairs(V256 v) => new(Avx.Permute(v._v, 0b10_11_00_01));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V256 v) => Vector256.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V256 v)
    {
        var m = Sse.Max(v._v.GetLower(), v._v.GetUpper());
        m = Sse.Max(m, Sse.MoveHighToLow(m, m));
        return MathF.Max(m.GetElement(0), m.GetElement(1));
    }
}

/// <summary>
/// The portable 128-bit path: SSE on x86 machines without AVX2, AdvSimd on ARM. <see cref="Fma"/> is fused where the
/// hardware has a fused multiply-add (x86 with FMA, every ARMv8) and a multiply then an add elsewhere, where an
/// exactly fused one would be emulated in software and slower than the scalar path.
/// </summary>
internal readonly struct V128(Vector128<float> v) : ISimd<V128>
{
    private readonly Vector128<float> _v = v;

    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Create(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 CreateBits(int bits) => new(Vector128.Create(bits).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Load(ReadOnlySpan<float> s, int i) => new(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Load(Span<float> s, int i) => new(Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V128 v, Span<float> s, int i) => v._v.StoreUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 LoadWidened(ReadOnlySpan<ushort> s, int i)
    {
        // Four 16-bit values are 8 bytes: read exactly those, never the 8 values a full 128-bit load would touch.
        ulong four = Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), i)));
        return new(Vector128.WidenLower(Vector128.CreateScalar(four).AsUInt16()).AsSingle());
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 operator +(V128 a, V128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 operator -(V128 a, V128 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 operator *(V128 a, V128 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 operator /(V128 a, V128 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Fma(V128 a, V128 b, V128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Min(V128 a, V128 b) => new(Vector128.ConditionalSelect(Vector128.LessThan(a._v, b._v), a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Max(V128 a, V128 b) => new(Vector128.ConditionalSelect(Vector128.GreaterThan(a._v, b._v), a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Sqrt(V128 a) => new(Vector128.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 LessThan(V128 a, V128 b) => new(Vector128.LessThan(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 LessOrEqual(V128 a, V128 b) => new(Vector128.LessThanOrEqual(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Select(V128 mask, V128 a, V128 b) => new(Vector128.ConditionalSelect(mask._v, a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 And(V128 a, V128 b) => new(a._v & b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 Or(V128 a, V128 b) => new(a._v | b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 AndNot(V128 a, V128 b) => new(Vector128.AndNot(a._v, b._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 AddBits(V128 a, V128 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 SubtractBits(V128 a, V128 b) => new((a._v.AsInt32() - b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 ShiftLeftBits(V128 a, int n) => new(Vector128.ShiftLeft(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 ShiftRightArithmeticBits(V128 a, int n) => new(Vector128.ShiftRightArithmetic(a._v.AsInt32(), n).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 GreaterOrEqualBits(V128 a, V128 b) => new(Vector128.GreaterThanOrEqual(a._v.AsInt32(), b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 RuntimeExp(V128 a) => new(Vector128.Exp(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 SwapPairs(V128 v) => new(Vector128.Shuffle(v._v, Vector128.Create(1, 0, 3, 2)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V128 v) => Vector128.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V128 v)
    {
        var m = Max(v, new(Vector128.Shuffle(v._v, Vector128.Create(2, 3, 0, 1))));
        m = Max(m, SwapPairs(m));
        return m._v.ToScalar();
    }
}

/// <summary>One lane: the scalar path, and the tail of every vector path.</summary>
internal readonly struct V1(float v) : ISimd<V1>
{
    private readonly float _v = v;

    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Create(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 CreateBits(int bits) => new(BitConverter.Int32BitsToSingle(bits));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Load(ReadOnlySpan<float> s, int i) => new(s[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Load(Span<float> s, int i) => new(s[i]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V1 v, Span<float> s, int i) => s[i] = v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 LoadWidened(ReadOnlySpan<ushort> s, int i) => new(BitConverter.Int32BitsToSingle(s[i]));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator +(V1 a, V1 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator -(V1 a, V1 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator *(V1 a, V1 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 operator /(V1 a, V1 b) => new(a._v / b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Fma(V1 a, V1 b, V1 c) => new(MathF.FusedMultiplyAdd(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Min(V1 a, V1 b) => a._v < b._v ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Max(V1 a, V1 b) => a._v > b._v ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Sqrt(V1 a) => new(MathF.Sqrt(a._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 LessThan(V1 a, V1 b) => FromBits(a._v < b._v ? -1 : 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 LessOrEqual(V1 a, V1 b) => FromBits(a._v <= b._v ? -1 : 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Select(V1 mask, V1 a, V1 b) => FromBits((Bits(mask) & Bits(a)) | (~Bits(mask) & Bits(b)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 And(V1 a, V1 b) => FromBits(Bits(a) & Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 Or(V1 a, V1 b) => FromBits(Bits(a) | Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 AndNot(V1 a, V1 b) => FromBits(Bits(a) & ~Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 AddBits(V1 a, V1 b) => FromBits(Bits(a) + Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 SubtractBits(V1 a, V1 b) => FromBits(Bits(a) - Bits(b));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 ShiftLeftBits(V1 a, int n) => FromBits(Bits(a) << n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 ShiftRightArithmeticBits(V1 a, int n) => FromBits(Bits(a) >> n);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 GreaterOrEqualBits(V1 a, V1 b) => FromBits(Bits(a) >= Bits(b) ? -1 : 0);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V1 RuntimeExp(V1 a) => new(MathF.Exp(a._v));
    public static V1 SwapPairs(V1 v) => throw new NotSupportedException("a single lane has no pair to swap");
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V1 v) => v._v;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V1 v) => v._v;

    private static int Bits(V1 v) => BitConverter.SingleToInt32Bits(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V1 FromBits(int bits) => new(BitConverter.Int32BitsToSingle(bits));
}

/// <summary>An elementwise kernel body: processes elements [i, i + T.Count).</summary>
internal interface IMap
{
    void Apply<T>(int i) where T : struct, ISimd<T>;
}

/// <summary>A reduction term: the values of elements [i, i + T.Count) to be summed (or maxed).</summary>
internal interface ITerm
{
    T At<T>(int i) where T : struct, ISimd<T>;
}

/// <summary>Runs generic kernel bodies on a <see cref="KernelPath"/>: full vectors first, then one lane at a time.</summary>
internal static class Simd
{
    /// <summary>The requested path, or the best one; throws (naming <paramref name="kernel"/> if given) when the CPU lacks it.</summary>
    public static KernelPath Resolve(KernelPath? path, string? kernel = null)
    {
        var p = path ?? KernelPaths.Best;
        if (!KernelPaths.IsSupported(p))
            throw new PlatformNotSupportedException(kernel is null ? $"kernel path {p} is not supported on this CPU" : $"{kernel}: kernel path {p} is not supported on this CPU");
        return p;
    }

    /// <summary>
    /// The step of the vector loops in a body that finishes with its own scalar tail: <typeparamref name="T"/>'s
    /// width, except for <see cref="V1"/>, whose step no loop bound reaches (<c>n - step</c> is negative for any real
    /// length), so on the scalar path the vector loops are skipped and the tail does all the work. Reductions then run
    /// on the accumulators' initial values, so Sum gives 0 and MaxAcross −∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Step<T>() where T : struct, ISimd<T> => T.Count == 1 ? int.MaxValue : T.Count;

    public static void CheckLength(string kernel, string what, int actual, int expected)
    {
        if (actual != expected)
            throw new ArgumentException($"{kernel}: {what} has {actual} elements, expected {expected}");
    }

    public static void For<TMap>(int n, scoped ref TMap map, KernelPath path) where TMap : IMap, allows ref struct
    {
        int i = path switch
        {
            KernelPath.Avx512 => ForVectors<V512, TMap>(0, n, ref map),
            KernelPath.Avx2 => ForVectors<V256, TMap>(0, n, ref map),
            KernelPath.Vector128 => ForVectors<V128, TMap>(0, n, ref map),
            _ => 0,
        };
        ForVectors<V1, TMap>(i, n, ref map);
    }

    public static float Sum<TTerm>(int n, scoped ref TTerm term, KernelPath path) where TTerm : ITerm, allows ref struct
    {
        int i = 0;
        float sum = path switch
        {
            KernelPath.Avx512 => SumVectors<V512, TTerm>(n, ref term, ref i),
            KernelPath.Avx2 => SumVectors<V256, TTerm>(n, ref term, ref i),
            KernelPath.Vector128 => SumVectors<V128, TTerm>(n, ref term, ref i),
            _ => 0f,
        };
        return sum + SumVectors<V1, TTerm>(n, ref term, ref i);
    }

    public static float Max<TTerm>(int n, scoped ref TTerm term, KernelPath path) where TTerm : ITerm, allows ref struct
    {
        int i = 0;
        float max = path switch
        {
            KernelPath.Avx512 => MaxVectors<V512, TTerm>(n, ref term, ref i),
            KernelPath.Avx2 => MaxVectors<V256, TTerm>(n, ref term, ref i),
            KernelPath.Vector128 => MaxVectors<V128, TTerm>(n, ref term, ref i),
            _ => float.NegativeInfinity,
        };
        return MathF.Max(max, MaxVectors<V1, TTerm>(n, ref term, ref i));
    }

    // Loops are never inlined into the dispatchers: each gets the JIT's full inlining budget for its kernel body.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ForVectors<T, TMap>(int i, int n, scoped ref TMap map) where T : struct, ISimd<T> where TMap : IMap, allows ref struct
    {
        for (; i <= n - T.Count; i += T.Count) map.Apply<T>(i);
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float SumVectors<T, TTerm>(int n, scoped ref TTerm term, ref int i) where T : struct, ISimd<T> where TTerm : ITerm, allows ref struct
    {
        // Two accumulators hide the add latency and halve the rounding-error growth.
        var s0 = T.Create(0f);
        var s1 = T.Create(0f);
        for (; i <= n - 2 * T.Count; i += 2 * T.Count)
        {
            s0 += term.At<T>(i);
            s1 += term.At<T>(i + T.Count);
        }
        if (i <= n - T.Count)
        {
            s0 += term.At<T>(i);
            i += T.Count;
        }
        return T.Sum(s0 + s1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float MaxVectors<T, TTerm>(int n, scoped ref TTerm term, ref int i) where T : struct, ISimd<T> where TTerm : ITerm, allows ref struct
    {
        var m = T.Create(float.NegativeInfinity);
        for (; i <= n - T.Count; i += T.Count) m = T.Max(m, term.At<T>(i));
        return T.MaxAcross(m);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Float operations at one vector width, so a kernel body is written once and instantiated per <see cref="KernelPath"/>.
/// The JIT specializes every struct instantiation, so calls through this interface compile to bare instructions.
/// Bodies loop <c>for (i = 0; i &lt;= n - Count; i += Count)</c> and finish with a scalar tail.
/// </summary>
internal interface IFloatLanes<TVec> where TVec : struct
{
    static abstract int Count { get; }
    static abstract TVec Load(ReadOnlySpan<float> s, int i);
    static abstract void Store(Span<float> s, int i, TVec v);
    static abstract TVec Broadcast(float x);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Subtract(TVec a, TVec b);
    static abstract TVec Multiply(TVec a, TVec b);
    /// <summary>a·b + c, fused.</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);
    static abstract TVec Max(TVec a, TVec b);
    static abstract TVec Exp(TVec a);
    static abstract float Sum(TVec v);
    static abstract float MaxAcross(TVec v);
    /// <summary>Swaps neighbouring elements: (x0, x1, x2, x3, ...) → (x1, x0, x3, x2, ...).</summary>
    static abstract TVec SwapPairs(TVec v);
}

internal readonly struct FloatLanes512 : IFloatLanes<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ReadOnlySpan<float> s, int i) => Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Span<float> s, int i, Vector512<float> v) => v.StoreUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);
    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Avx512F.Max(a, b);
    public static Vector512<float> Exp(Vector512<float> a) => Vector512.Exp(a);
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);
    public static float MaxAcross(Vector512<float> v) => FloatLanes256.MaxAcross(Avx.Max(v.GetLower(), v.GetUpper()));
    public static Vector512<float> SwapPairs(Vector512<float> v) => Avx512F.Permute4x32(v, 0b10_11_00_01);
}

internal readonly struct FloatLanes256 : IFloatLanes<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ReadOnlySpan<float> s, int i) => Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Span<float> s, int i, Vector256<float> v) => v.StoreUnsafe(ref MemoryMarshal.GetReference(s), (nuint)i);
    public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.MultiplyAdd(a, b, c);
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Avx.Max(a, b);
    public static Vector256<float> Exp(Vector256<float> a) => Vector256.Exp(a);
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);

    public static float MaxAcross(Vector256<float> v)
    {
        var m = Sse.Max(v.GetLower(), v.GetUpper());
        m = Sse.Max(m, Sse.MoveHighToLow(m, m));
        return MathF.Max(m.ToScalar(), m.GetElement(1));
    }

    public static Vector256<float> SwapPairs(Vector256<float> v) => Avx.Permute(v, 0b10_11_00_01);
}

/// <summary>
/// The scalar path: a width no loop bound can reach (<c>n - Count</c> is negative for any real span length), so a
/// body's vector loops are skipped and its scalar tail does all the work. Reductions still run on the accumulators'
/// initial values, so every operation is defined as the one-lane scalar equivalent.
/// </summary>
internal readonly struct ScalarLanes : IFloatLanes<float>
{
    public static int Count => int.MaxValue;
    public static float Load(ReadOnlySpan<float> s, int i) => s[i];
    public static void Store(Span<float> s, int i, float v) => s[i] = v;
    public static float Broadcast(float x) => x;
    public static float Add(float a, float b) => a + b;
    public static float Subtract(float a, float b) => a - b;
    public static float Multiply(float a, float b) => a * b;
    public static float MultiplyAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    public static float Max(float a, float b) => MathF.Max(a, b);
    public static float Exp(float a) => MathF.Exp(a);
    public static float Sum(float v) => v;
    public static float MaxAcross(float v) => v;
    public static float SwapPairs(float v) => throw new NotSupportedException("a single lane has no pair to swap");
}

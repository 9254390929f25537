using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

/// <summary>Elementwise arithmetic and sums over equal-length spans. Outputs may alias inputs element for element.</summary>
public static class Elementwise
{
    /// <summary>y = a·b.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, KernelPath? path = null)
        => Run(new BinaryMap<MulFn>(a, b, y, 0f), path, hasB: true);

    /// <summary>acc += a·b.</summary>
    public static void MultiplyAccumulate(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> acc, KernelPath? path = null)
        => Run(new BinaryMap<MulAccFn>(a, b, acc, 0f), path, hasB: true);

    /// <summary>y = a + s·b (s = 1: add, s = -1: subtract).</summary>
    public static void AddScaled(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float s, Span<float> y, KernelPath? path = null)
        => Run(new BinaryMap<AddScaledFn>(a, b, y, s), path, hasB: true);

    /// <summary>y = s·x.</summary>
    public static void Scale(ReadOnlySpan<float> x, float s, Span<float> y, KernelPath? path = null)
        => Run(new BinaryMap<ScaleFn>(x, default, y, s), path);

    /// <summary>acc += s·x.</summary>
    public static void ScaleAccumulate(ReadOnlySpan<float> x, float s, Span<float> acc, KernelPath? path = null)
        => Run(new BinaryMap<AddScaledFn>(acc, x, acc, s), path, hasB: true);

    /// <summary>acc += c.</summary>
    public static void AddConstant(Span<float> acc, float c, KernelPath? path = null)
        => Run(new BinaryMap<AddScaledFn>(acc, default, acc, c), path);

    /// <summary>Σx, in float blocks combined in double so long sums do not drift.</summary>
    public static float Sum(ReadOnlySpan<float> x, KernelPath? path = null)
    {
        const int Block = 4096;
        var p = Simd.Resolve(path);
        double total = 0;
        for (int o = 0; o < x.Length; o += Block)
        {
            var term = new LoadTerm(x.Slice(o, Math.Min(Block, x.Length - o)));
            total += Simd.Sum(term.Length, ref term, p);
        }
        return (float)total;
    }

    private static void Run<TFn>(BinaryMap<TFn> map, KernelPath? path, bool hasB = false) where TFn : IBinary
    {
        Simd.CheckLength(nameof(Elementwise), "output", map.Length, map.ALength);
        if (hasB) Simd.CheckLength(nameof(Elementwise), "second input", map.BLength, map.ALength);
        Simd.For(map.Length, ref map, Simd.Resolve(path));
    }

    /// <summary>f(a, b, s, y) for one vector; an empty b reads as 1, so constants share the loops.</summary>
    private interface IBinary
    {
        /// <summary>Whether Apply reads y; a constant, so the JIT drops the load when it does not.</summary>
        static virtual bool Accumulates => false;
        static abstract T Apply<T>(T a, T b, T s, T y) where T : struct, ISimd<T>;
    }

    private readonly struct MulFn : IBinary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T a, T b, T s, T y) where T : struct, ISimd<T> => a * b;
    }

    private readonly struct ScaleFn : IBinary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T a, T b, T s, T y) where T : struct, ISimd<T> => a * s;
    }

    private readonly struct MulAccFn : IBinary
    {
        public static bool Accumulates => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T a, T b, T s, T y) where T : struct, ISimd<T> => T.Fma(a, b, y);
    }

    private readonly struct AddScaledFn : IBinary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T a, T b, T s, T y) where T : struct, ISimd<T> => T.Fma(s, b, a);
    }

    private readonly ref struct BinaryMap<TFn>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, float s) : IMap
        where TFn : IBinary
    {
        private readonly ReadOnlySpan<float> _a = a;
        private readonly ReadOnlySpan<float> _b = b;
        private readonly Span<float> _y = y;
        private readonly float _s = s;

        public int Length => _y.Length;
        public int ALength => _a.Length;
        public int BLength => _b.Length;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var s = T.Create(_s);
            var b = _b.IsEmpty ? T.Create(1f) : T.Load(_b, i);
            var y = TFn.Accumulates ? T.Load(_y, i) : T.Create(0f);
            T.Store(TFn.Apply(T.Load(_a, i), b, s, y), _y, i);
        }
    }

    private readonly ref struct LoadTerm(ReadOnlySpan<float> x) : ITerm
    {
        private readonly ReadOnlySpan<float> _x = x;
        public int Length => _x.Length;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T> => T.Load(_x, i);
    }
}

using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Row kernels for softmax, log-softmax and cross-entropy. Every exponent is taken after subtracting the row
/// maximum, so finite rows of any magnitude give finite results (log-probabilities saturate at -float.MaxValue
/// rather than reaching -inf).
/// </summary>
public static class Softmax
{
    /// <summary>y = softmax(x) over one row.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null)
    {
        Simd.CheckLength(nameof(Softmax), "y", y.Length, x.Length);
        var p = Simd.Resolve(path);
        var exp = new ExpTerm(x, Max(x, p), y);
        Elementwise.Scale(y, 1f / Simd.Sum(x.Length, ref exp, p), y, p);
    }

    /// <summary>y = log softmax(x) over one row.</summary>
    public static void LogForward(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null)
    {
        Simd.CheckLength(nameof(Softmax), "y", y.Length, x.Length);
        var p = Simd.Resolve(path);
        var (max, logSum) = LogSumExpParts(x, p);
        var map = new LogMap(x, max, logSum, y);
        Simd.For(x.Length, ref map, p);
    }

    /// <summary>gx += y·(gy - ⟨gy, y⟩), with y = softmax(x).</summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> gy, Span<float> gx, KernelPath? path = null)
    {
        Simd.CheckLength(nameof(Softmax), "gy", gy.Length, y.Length);
        Simd.CheckLength(nameof(Softmax), "gx", gx.Length, y.Length);
        var p = Simd.Resolve(path);
        var dot = new DotTerm(y, gy);
        var map = new SoftmaxGradMap(y, gy, Simd.Sum(y.Length, ref dot, p), gx);
        Simd.For(y.Length, ref map, p);
    }

    /// <summary>gx += gy - exp(y)·Σgy, with y = log softmax(x).</summary>
    public static void LogBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> gy, Span<float> gx, KernelPath? path = null)
    {
        Simd.CheckLength(nameof(Softmax), "gy", gy.Length, y.Length);
        Simd.CheckLength(nameof(Softmax), "gx", gx.Length, y.Length);
        var p = Simd.Resolve(path);
        Elementwise.AddScaled(gx, gy, 1f, gx, p);
        AccumulateExp(y, 0f, 0f, -Elementwise.Sum(gy, p), gx, p);
    }

    /// <summary>
    /// log Σ exp(x) as (max, log Σ exp(x - max)); keeping the parts apart avoids rounding the large max into the
    /// small log-sum when callers go on to form x - max - logSum.
    /// </summary>
    public static (float Max, float LogSum) LogSumExpParts(ReadOnlySpan<float> x, KernelPath? path = null)
    {
        var p = Simd.Resolve(path);
        float max = Max(x, p);
        var term = new ExpTerm(x, max, default);
        return (max, MathF.Log(Simd.Sum(x.Length, ref term, p)));
    }

    /// <summary>acc += scale·exp(x - shift - logSum): the softmax gradient terms of log-softmax and cross-entropy.</summary>
    public static void AccumulateExp(ReadOnlySpan<float> x, float shift, float logSum, float scale, Span<float> acc, KernelPath? path = null)
    {
        Simd.CheckLength(nameof(Softmax), "acc", acc.Length, x.Length);
        var map = new ExpAccumulateMap(x, shift, logSum, scale, acc);
        Simd.For(x.Length, ref map, Simd.Resolve(path));
    }

    private static float Max(ReadOnlySpan<float> x, KernelPath p)
    {
        if (x.IsEmpty) throw new ArgumentException("Softmax: empty row");
        var term = new LoadTerm(x);
        return Simd.Max(x.Length, ref term, p);
    }

    private readonly ref struct LoadTerm(ReadOnlySpan<float> x) : ITerm
    {
        private readonly ReadOnlySpan<float> _x = x;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T> => T.Load(_x, i);
    }

    /// <summary>exp(x - max), also stored into <c>y</c> unless it is empty (the sum and the store share one pass).</summary>
    private readonly ref struct ExpTerm(ReadOnlySpan<float> x, float max, Span<float> y) : ITerm
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;
        private readonly float _max = max;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T>
        {
            var e = VectorMath.Exp(T.Load(_x, i) - T.Create(_max));
            if (!_y.IsEmpty) T.Store(e, _y, i);
            return e;
        }
    }

    private readonly ref struct DotTerm(ReadOnlySpan<float> a, ReadOnlySpan<float> b) : ITerm
    {
        private readonly ReadOnlySpan<float> _a = a;
        private readonly ReadOnlySpan<float> _b = b;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T> => T.Load(_a, i) * T.Load(_b, i);
    }

    /// <summary>acc += scale·exp((x - shift) - logSum).</summary>
    private readonly ref struct ExpAccumulateMap(ReadOnlySpan<float> x, float shift, float logSum, float scale, Span<float> acc) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _acc = acc;
        private readonly float _shift = shift, _logSum = logSum, _scale = scale;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var e = VectorMath.Exp(T.Load(_x, i) - T.Create(_shift) - T.Create(_logSum));
            T.Store(T.Fma(e, T.Create(_scale), T.Load(_acc, i)), _acc, i);
        }
    }

    private readonly ref struct LogMap(ReadOnlySpan<float> x, float max, float logSum, Span<float> y) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;
        private readonly float _max = max, _logSum = logSum;

        // x - max overflows to -inf only when the row spans more than float's range; saturate it.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
            => T.Store(T.Max(T.Create(-float.MaxValue), T.Load(_x, i) - T.Create(_max) - T.Create(_logSum)), _y, i);
    }

    private readonly ref struct SoftmaxGradMap(ReadOnlySpan<float> y, ReadOnlySpan<float> gy, float dot, Span<float> gx) : IMap
    {
        private readonly ReadOnlySpan<float> _y = y, _gy = gy;
        private readonly Span<float> _gx = gx;
        private readonly float _dot = dot;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
            => T.Store(T.Fma(T.Load(_y, i), T.Load(_gy, i) - T.Create(_dot), T.Load(_gx, i)), _gx, i);
    }
}

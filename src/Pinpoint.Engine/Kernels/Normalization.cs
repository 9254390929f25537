using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// One row of LayerNorm (<c>center</c> = true, with bias) or RMSNorm (<c>center</c> = false, no bias):
/// y = (x - mean)·rstd·(w + weightOffset) + b, rstd = 1/√(mean((x - mean)²) + eps), mean = 0 when not centering.
/// weightOffset = 1 gives Gemma's (1 + w) scaling.
/// </summary>
public static class Normalization
{
    /// <returns>rstd of the row; <paramref name="mean"/> receives the subtracted mean (0 when not centering).</returns>
    public static float Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float weightOffset, ReadOnlySpan<float> bias,
        float eps, bool center, Span<float> y, out float mean, KernelPath? path = null)
    {
        int d = x.Length;
        Check(d, weight, bias);
        Simd.CheckLength(nameof(Normalization), "y", y.Length, d);
        var p = Simd.Resolve(path);
        // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] - E[x]².
        mean = center ? Elementwise.Sum(x, p) / d : 0f;
        var sq = new SquareTerm(x, mean);
        float rstd = 1f / MathF.Sqrt(Simd.Sum(d, ref sq, p) / d + eps);
        var map = new ForwardMap(x, weight, weightOffset, bias, mean, rstd, y);
        Simd.For(d, ref map, p);
        return rstd;
    }

    /// <summary>
    /// With g = dy·(w + offset) and x̂ = (x - mean)·rstd: dx += rstd·(g - mean(g) - x̂·mean(g·x̂)) (no mean(g) term
    /// when not centering), dw += dy·x̂, db += dy. Any of dx, dw, db may be empty to skip it.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, float weightOffset,
        bool center, float mean, float rstd, Span<float> dx, Span<float> dw, Span<float> db, KernelPath? path = null)
    {
        int d = x.Length;
        Check(d, weight, default);
        Simd.CheckLength(nameof(Normalization), "dy", dy.Length, d);
        if (!dx.IsEmpty) Simd.CheckLength(nameof(Normalization), "dx", dx.Length, d);
        if (!dw.IsEmpty) Simd.CheckLength(nameof(Normalization), "dw", dw.Length, d);
        if (!db.IsEmpty) Simd.CheckLength(nameof(Normalization), "db", db.Length, d);
        var p = Simd.Resolve(path);
        float meanG = 0f, meanGXhat = 0f;
        if (!dx.IsEmpty)
        {
            var g = new GradTerm(x, dy, weight, weightOffset, mean, rstd, timesXhat: false);
            if (center) meanG = Simd.Sum(d, ref g, p) / d;
            var gx = new GradTerm(x, dy, weight, weightOffset, mean, rstd, timesXhat: true);
            meanGXhat = Simd.Sum(d, ref gx, p) / d;
        }
        var map = new BackwardMap(x, dy, weight, weightOffset, mean, rstd, meanG, meanGXhat, dx, dw, db);
        Simd.For(d, ref map, p);
    }

    private static void Check(int d, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        if (d == 0) throw new ArgumentException("Normalization: empty row");
        Simd.CheckLength(nameof(Normalization), "weight", weight.Length, d);
        if (!bias.IsEmpty) Simd.CheckLength(nameof(Normalization), "bias", bias.Length, d);
    }

    private readonly ref struct SquareTerm(ReadOnlySpan<float> x, float mean) : ITerm
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly float _mean = mean;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T>
        {
            var c = T.Load(_x, i) - T.Create(_mean);
            return c * c;
        }
    }

    private readonly ref struct GradTerm(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> w, float offset,
        float mean, float rstd, bool timesXhat) : ITerm
    {
        private readonly ReadOnlySpan<float> _x = x, _dy = dy, _w = w;
        private readonly float _offset = offset, _mean = mean, _rstd = rstd;
        private readonly bool _timesXhat = timesXhat;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public T At<T>(int i) where T : struct, ISimd<T>
        {
            var g = T.Load(_dy, i) * (T.Load(_w, i) + T.Create(_offset));
            return _timesXhat ? g * ((T.Load(_x, i) - T.Create(_mean)) * T.Create(_rstd)) : g;
        }
    }

    private readonly ref struct ForwardMap(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float offset, ReadOnlySpan<float> b,
        float mean, float rstd, Span<float> y) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x, _w = w, _b = b;
        private readonly Span<float> _y = y;
        private readonly float _offset = offset, _mean = mean, _rstd = rstd;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var xhat = (T.Load(_x, i) - T.Create(_mean)) * T.Create(_rstd);
            var w = T.Load(_w, i) + T.Create(_offset);
            T.Store(_b.IsEmpty ? xhat * w : T.Fma(xhat, w, T.Load(_b, i)), _y, i);
        }
    }

    private readonly ref struct BackwardMap(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> w, float offset,
        float mean, float rstd, float meanG, float meanGXhat, Span<float> dx, Span<float> dw, Span<float> db) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x, _dy = dy, _w = w;
        private readonly Span<float> _dx = dx, _dw = dw, _db = db;
        private readonly float _offset = offset, _mean = mean, _rstd = rstd, _meanG = meanG, _meanGXhat = meanGXhat;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var dy = T.Load(_dy, i);
            var xhat = (T.Load(_x, i) - T.Create(_mean)) * T.Create(_rstd);
            if (!_dx.IsEmpty)
            {
                var g = dy * (T.Load(_w, i) + T.Create(_offset));
                var inner = g - T.Create(_meanG) - xhat * T.Create(_meanGXhat);
                T.Store(T.Fma(inner, T.Create(_rstd), T.Load(_dx, i)), _dx, i);
            }
            if (!_dw.IsEmpty) T.Store(T.Fma(dy, xhat, T.Load(_dw, i)), _dw, i);
            if (!_db.IsEmpty) T.Store(dy + T.Load(_db, i), _db, i);
        }
    }
}

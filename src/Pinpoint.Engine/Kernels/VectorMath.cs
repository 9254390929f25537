using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Vectorized exp, tanh, erf and erfc shared by softmax, the activations and the loss. Each is a generic body over
/// <see cref="ISimd{T}"/>, so every path (and every tail) evaluates the same formula.
/// </summary>
public static class VectorMath
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split so n·Ln2Hi is exact for |n| ≤ 2^8 (Cody–Waite reduction).
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.42860682030941723212e-6f;
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    private const float RoundMagic = 12582912f;

    /// <summary>y = exp(x); saturates to +inf above ~88.72 and to 0 below ~-103.3, like the correctly rounded function.</summary>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null) => Run<ExpFn>(x, y, path);

    public static void Tanh(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null) => Run<TanhFn>(x, y, path);

    /// <summary>y = erf(x): relative error about 1e-7 for |x| &lt; 1, absolute error about 1e-7 beyond.</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null) => Run<ErfFn>(x, y, path);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Exp<T>(T x) where T : struct, ISimd<T>
    {
        // Clamping keeps n in [-159, 128]; splitting 2^n into two factors keeps both normal, so results overflow
        // to +inf and underflow through the subnormals to 0 instead of wrapping the exponent field.
        x = T.Max(T.Create(-110f), T.Min(T.Create(89f), x));
        var t = T.Fma(x, T.Create(Log2E), T.Create(RoundMagic));
        var n = t - T.Create(RoundMagic);
        var r = T.Fma(n, T.Create(-Ln2Hi), x);
        r = T.Fma(n, T.Create(-Ln2Lo), r);
        // Degree-7 Taylor polynomial: on |r| ≤ ln2/2 its truncation error (5e-9) is far below one ulp.
        var p = T.Fma(T.Create(1f / 5040), r, T.Create(1f / 720));
        p = T.Fma(p, r, T.Create(1f / 120));
        p = T.Fma(p, r, T.Create(1f / 24));
        p = T.Fma(p, r, T.Create(1f / 6));
        p = T.Fma(p, r, T.Create(0.5f));
        p = T.Fma(p, r, T.Create(1f));
        p = T.Fma(p, r, T.Create(1f));
        var k = T.SubtractBits(t, T.Create(RoundMagic));
        var k1 = T.ShiftRightArithmeticBits(k, 1);
        var k2 = T.SubtractBits(k, k1);
        var bias = T.CreateBits(127);
        return p * T.ShiftLeftBits(T.AddBits(k1, bias), 23) * T.ShiftLeftBits(T.AddBits(k2, bias), 23);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Tanh<T>(T x) where T : struct, ISimd<T>
    {
        var sign = T.CreateBits(int.MinValue);
        var a = T.AndNot(x, sign);
        // Near 0, 1 - 2/(e^2a + 1) cancels; the odd Taylor series through x^15 is within half an ulp for |x| < 0.55.
        var x2 = x * x;
        var p = T.Fma(T.Create(-929569f / 638512875f), x2, T.Create(21844f / 6081075f));
        p = T.Fma(p, x2, T.Create(-1382f / 155925f));
        p = T.Fma(p, x2, T.Create(62f / 2835f));
        p = T.Fma(p, x2, T.Create(-17f / 315f));
        p = T.Fma(p, x2, T.Create(2f / 15f));
        p = T.Fma(p, x2, T.Create(-1f / 3f));
        var small = T.Fma(p * x2, x, x);
        var large = T.Create(1f) - T.Create(2f) / (Exp(a + a) + T.Create(1f));
        large = T.Or(large, T.And(x, sign));
        return T.Select(T.LessThan(a, T.Create(0.55f)), small, large);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Erf<T>(T x) where T : struct, ISimd<T>
    {
        var sign = T.CreateBits(int.MinValue);
        var a = T.AndNot(x, sign);
        var large = T.Or(T.Create(1f) - Erfc(a, a, 1f), T.And(x, sign));
        return T.Select(T.LessThan(a, T.Create(1f)), ErfSeries(x), large);
    }

    /// <summary>erf(x) for |x| &lt; 1: Maclaurin series through x^23 (relative error ~1e-7, where erfc-based forms lose it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T ErfSeries<T>(T x) where T : struct, ISimd<T>
    {
        var x2 = x * x;
        var p = T.Fma(T.Create(-1f / 918086400), x2, T.Create(1f / 76204800));
        p = T.Fma(p, x2, T.Create(-1f / 6894720));
        p = T.Fma(p, x2, T.Create(1f / 685440));
        p = T.Fma(p, x2, T.Create(-1f / 75600));
        p = T.Fma(p, x2, T.Create(1f / 9360));
        p = T.Fma(p, x2, T.Create(-1f / 1320));
        p = T.Fma(p, x2, T.Create(1f / 216));
        p = T.Fma(p, x2, T.Create(-1f / 42));
        p = T.Fma(p, x2, T.Create(1f / 10));
        p = T.Fma(p, x2, T.Create(-1f / 3));
        p = T.Fma(p, x2, T.Create(1f));
        return x * p * T.Create(1.12837916709551257f);
    }

    /// <summary>
    /// erfc(a) for a ≥ 1, relative error ~3e-7 down to the float underflow (a ≈ 10), given a² = k·x² through
    /// <paramref name="x"/> so the exponent is formed exactly. erfc(a) = t·g(t)·exp(-a²) with t = 1/(1 + 0.3275911a)
    /// (the Abramowitz–Stegun 7.1.26 substitution); g is our degree-8 least-squares fit of erfc(a)·e^(a²)/t in
    /// s = (t - 0.49111)/0.26587 over a ∈ [1, 10.5], minimizing relative error.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Erfc<T>(T a, T x, float k) where T : struct, ISimd<T>
    {
        var t = T.Create(1f) / T.Fma(T.Create(0.3275911f), a, T.Create(1f));
        var s = T.Fma(t, T.Create(3.7612390518188477f), T.Create(-1.8471819162368774f));
        var g = T.Fma(T.Create(-1.5693177601860953e-06f), s, T.Create(-1.104625243897317e-05f));
        g = T.Fma(g, s, T.Create(6.48624745736015e-06f));
        g = T.Fma(g, s, T.Create(0.00045164619223214686f));
        g = T.Fma(g, s, T.Create(0.00333835044875741f));
        g = T.Fma(g, s, T.Create(0.015527517534792423f));
        g = T.Fma(g, s, T.Create(0.05423079431056976f));
        g = T.Fma(g, s, T.Create(0.1513655036687851f));
        g = T.Fma(g, s, T.Create(0.3472478985786438f));
        return t * g * ExpNegSquare(x, k);
    }

    /// <summary>
    /// exp(-k·x²) for k ≥ ½, with x² split into hi + lo (exact, by FMA): the rounding of x² alone would cost
    /// k·x²·2^-24 of relative accuracy, 5e-6 by the time the result underflows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T ExpNegSquare<T>(T x, float k) where T : struct, ISimd<T>
    {
        // The result is 0 beyond |x| = 16 anyway; clamping keeps x² finite so 0·inf cannot appear below.
        x = T.Max(T.Create(-16f), T.Min(T.Create(16f), x));
        var hi = x * x;
        var lo = T.Fma(x, x, T.Create(0f) - hi);
        var nk = T.Create(-k);
        var e = Exp(hi * nk);
        return T.Fma(e, lo * nk, e);
    }

    private static void Run<TFn>(ReadOnlySpan<float> x, Span<float> y, KernelPath? path) where TFn : IFunction
    {
        Simd.CheckLength(nameof(VectorMath), "y", y.Length, x.Length);
        var map = new FunctionMap<TFn>(x, y);
        Simd.For(x.Length, ref map, Simd.Resolve(path));
    }

    private interface IFunction
    {
        static abstract T Apply<T>(T x) where T : struct, ISimd<T>;
    }

    private readonly struct ExpFn : IFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T x) where T : struct, ISimd<T> => Exp(x);
    }

    private readonly struct TanhFn : IFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T x) where T : struct, ISimd<T> => Tanh(x);
    }

    private readonly struct ErfFn : IFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Apply<T>(T x) where T : struct, ISimd<T> => Erf(x);
    }

    private readonly ref struct FunctionMap<TFn>(ReadOnlySpan<float> x, Span<float> y) : IMap where TFn : IFunction
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T> => T.Store(TFn.Apply(T.Load(_x, i)), _y, i);
    }
}

using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

public enum Activation
{
    /// <summary>x·σ(x).</summary>
    Silu,
    /// <summary>Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)) (Hugging Face "gelu").</summary>
    Gelu,
    /// <summary>Tanh-approximated GELU, ½x(1 + tanh(√(2/π)(x + 0.044715x³))) ("gelu_new", "gelu_pytorch_tanh").</summary>
    GeluTanh,
}

/// <summary>Activation functions, their backward passes, and the gated forms f(gate)·up (SwiGLU, GeGLU).</summary>
public static class Activations
{
    /// <summary>y = f(x).</summary>
    public static void Forward(Activation f, ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null)
        => Dispatch(f, new Map(x, default, default, y, default), path);

    /// <summary>gx += gy·f'(x).</summary>
    public static void Backward(Activation f, ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx, KernelPath? path = null)
        => Dispatch(f, new Map(x, default, gy, gx, default), path);

    /// <summary>y = f(gate)·up.</summary>
    public static void GatedForward(Activation f, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y, KernelPath? path = null)
        => Dispatch(f, new Map(gate, up, default, y, default), path);

    /// <summary>gGate += gy·up·f'(gate), gUp += gy·f(gate); either output may be empty to skip it.</summary>
    public static void GatedBackward(Activation f, ReadOnlySpan<float> gate, ReadOnlySpan<float> up, ReadOnlySpan<float> gy,
        Span<float> gGate, Span<float> gUp, KernelPath? path = null)
        => Dispatch(f, new Map(gate, up, gy, gGate, gUp), path);

    private static void Dispatch(Activation f, Map map, KernelPath? path)
    {
        int n = map.Length;
        map.CheckLengths();
        var p = Simd.Resolve(path);
        switch (f)
        {
            case Activation.Silu: Run<SiluFn>(n, map, p); break;
            case Activation.Gelu: Run<GeluFn>(n, map, p); break;
            case Activation.GeluTanh: Run<GeluTanhFn>(n, map, p); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f, "unknown activation");
        }
    }

    private static void Run<TFn>(int n, Map map, KernelPath path) where TFn : IActivation
    {
        var body = new Body<TFn>(map);
        Simd.For(n, ref body, path);
    }

    private interface IActivation
    {
        static abstract T Value<T>(T x) where T : struct, ISimd<T>;
        static abstract T Derivative<T>(T x, out T value) where T : struct, ISimd<T>;
    }

    private readonly struct SiluFn : IActivation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Value<T>(T x) where T : struct, ISimd<T> => x * Sigmoid(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Derivative<T>(T x, out T value) where T : struct, ISimd<T>
        {
            var s = Sigmoid(x);
            value = x * s;
            // σ(1 + x(1 - σ)) = σ + x·σ - x·σ²; written with σ(1-σ) so huge |x| gives 0·x, never inf - inf.
            return T.Fma(x, s * (T.Create(1f) - s), s);
        }

        // exp(-x) saturating to +inf for very negative x gives σ = 0, not NaN.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Sigmoid<T>(T x) where T : struct, ISimd<T>
            => T.Create(1f) / (T.Create(1f) + VectorMath.Exp(T.Create(0f) - x));
    }

    private readonly struct GeluFn : IActivation
    {
        private const float InvSqrt2 = 0.707106781186547524f;
        private const float InvSqrt2Pi = 0.398942280401432678f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Value<T>(T x) where T : struct, ISimd<T> => x * Cdf(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Derivative<T>(T x, out T value) where T : struct, ISimd<T>
        {
            var cdf = Cdf(x);
            value = x * cdf;
            // Φ(x) + x·φ(x); φ underflows to 0 well before x·φ could overflow.
            var pdf = T.Create(InvSqrt2Pi) * VectorMath.ExpNegSquare(x, 0.5f);
            return T.Fma(x, pdf, cdf);
        }

        /// <summary>
        /// Φ(x). For |x| ≥ √2 it is ½erfc(|x|/√2) (or one minus that), so the negative tail keeps its relative
        /// accuracy instead of cancelling in 1 + erf(x/√2).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Cdf<T>(T x) where T : struct, ISimd<T>
        {
            var abs = T.AndNot(x, T.CreateBits(int.MinValue));
            var a = abs * T.Create(InvSqrt2);
            var tail = T.Create(0.5f) * VectorMath.Erfc(a, abs, 0.5f);
            var large = T.Select(T.LessThan(x, T.Create(0f)), tail, T.Create(1f) - tail);
            var small = T.Create(0.5f) * (T.Create(1f) + VectorMath.ErfSeries(x * T.Create(InvSqrt2)));
            return T.Select(T.LessThan(a, T.Create(1f)), small, large);
        }
    }

    private readonly struct GeluTanhFn : IActivation
    {
        private const float Sqrt2OverPi = 0.797884560802865355f;
        private const float Cubic = 0.044715f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Value<T>(T x) where T : struct, ISimd<T> => T.Create(0.5f) * x * (T.Create(1f) + Th(x));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static T Derivative<T>(T x, out T value) where T : struct, ISimd<T>
        {
            var th = Th(x);
            value = T.Create(0.5f) * x * (T.Create(1f) + th);
            // ½(1 + th) + ½x(1 - th²)·√(2/π)(1 + 3c·x²). For |x| > 10, 1 - th² is exactly 0, so clamping x there
            // changes nothing but keeps x³ from overflowing into 0·inf.
            var xc = T.Max(T.Create(-10f), T.Min(T.Create(10f), x));
            var du = T.Create(Sqrt2OverPi) * T.Fma(T.Create(3f * Cubic) * xc, xc, T.Create(1f));
            var sech2 = T.Create(1f) - th * th;
            return T.Create(0.5f) * T.Fma(xc * sech2, du, T.Create(1f) + th);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static T Th<T>(T x) where T : struct, ISimd<T>
            => VectorMath.Tanh(T.Create(Sqrt2OverPi) * T.Fma(T.Create(Cubic) * x * x, x, x));
    }

    /// <summary>
    /// The four kernels share one body: which spans are present selects forward or backward, plain or gated.
    /// x is the input (the gate when gated), up the multiplier, gy the incoming gradient, out the result or the
    /// accumulated input gradient, outUp the accumulated gradient of up.
    /// </summary>
    private readonly ref struct Map(ReadOnlySpan<float> x, ReadOnlySpan<float> up, ReadOnlySpan<float> gy, Span<float> output, Span<float> outUp)
    {
        public readonly ReadOnlySpan<float> X = x;
        public readonly ReadOnlySpan<float> Up = up;
        public readonly ReadOnlySpan<float> Gy = gy;
        public readonly Span<float> Out = output;
        public readonly Span<float> OutUp = outUp;

        public int Length => X.Length;

        public void CheckLengths()
        {
            const string Kernel = "Activations";
            if (!Up.IsEmpty) Simd.CheckLength(Kernel, "up", Up.Length, X.Length);
            if (!Gy.IsEmpty) Simd.CheckLength(Kernel, "output gradient", Gy.Length, X.Length);
            // Only the gated backward pass may skip its first output (when the gate needs no gradient).
            bool gatedBackward = !Up.IsEmpty && !Gy.IsEmpty;
            if (!Out.IsEmpty || !gatedBackward) Simd.CheckLength(Kernel, "output", Out.Length, X.Length);
            if (!OutUp.IsEmpty) Simd.CheckLength(Kernel, "up gradient", OutUp.Length, X.Length);
        }
    }

    private readonly ref struct Body<TFn>(Map map) : IMap where TFn : IActivation
    {
        private readonly Map _m = map;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var x = T.Load(_m.X, i);
            if (_m.Gy.IsEmpty)
            {
                var v = TFn.Value(x);
                T.Store(_m.Up.IsEmpty ? v : v * T.Load(_m.Up, i), _m.Out, i);
                return;
            }
            var gy = T.Load(_m.Gy, i);
            var d = TFn.Derivative(x, out var value);
            if (_m.Up.IsEmpty)
            {
                T.Store(T.Fma(gy, d, T.Load(_m.Out, i)), _m.Out, i);
                return;
            }
            if (!_m.Out.IsEmpty) T.Store(T.Fma(gy * T.Load(_m.Up, i), d, T.Load(_m.Out, i)), _m.Out, i);
            if (!_m.OutUp.IsEmpty) T.Store(T.Fma(gy, value, T.Load(_m.OutUp, i)), _m.OutUp, i);
        }
    }
}

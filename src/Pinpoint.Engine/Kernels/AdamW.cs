using System.Runtime.CompilerServices;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// One AdamW step in place, as PyTorch defines it: p ← p·(1 - lr·wd); m ← β1·m + (1-β1)·g; v ← β2·v + (1-β2)·g²;
/// p ← p - (lr / (1-β1^t)) · m / (√v / √(1-β2^t) + eps). Weight decay is decoupled from the gradient.
/// </summary>
public static class AdamW
{
    public static void Step(Span<float> param, ReadOnlySpan<float> grad, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float weightDecay, int step, KernelPath? path = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        Simd.CheckLength(nameof(AdamW), "grad", grad.Length, param.Length);
        Simd.CheckLength(nameof(AdamW), "m", m.Length, param.Length);
        Simd.CheckLength(nameof(AdamW), "v", v.Length, param.Length);
        // Bias corrections in double: 1 - β^t loses most of its digits in float when β is close to 1.
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = 1 - Math.Pow(beta2, step);
        var map = new Map(param, grad, m, v, beta1, beta2, eps, 1f - lr * weightDecay, (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)));
        Simd.For(param.Length, ref map, Simd.Resolve(path));
    }

    private readonly ref struct Map(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float beta1, float beta2, float eps, float decay, float stepSize, float invSqrtBc2) : IMap
    {
        private readonly Span<float> _p = p, _m = m, _v = v;
        private readonly ReadOnlySpan<float> _g = g;
        private readonly float _beta1 = beta1, _beta2 = beta2, _eps = eps, _decay = decay, _stepSize = stepSize, _invSqrtBc2 = invSqrtBc2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var g = T.Load(_g, i);
            var m = T.Fma(T.Create(_beta1), T.Load(_m, i), T.Create(1f - _beta1) * g);
            var v = T.Fma(T.Create(_beta2), T.Load(_v, i), T.Create(1f - _beta2) * g * g);
            T.Store(m, _m, i);
            T.Store(v, _v, i);
            var denom = T.Fma(T.Sqrt(v), T.Create(_invSqrtBc2), T.Create(_eps));
            var p = T.Load(_p, i) * T.Create(_decay);
            T.Store(p - T.Create(_stepSize) * m / denom, _p, i);
        }
    }
}

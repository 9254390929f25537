using System.Runtime.CompilerServices;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise max(x, 0); NaN stays NaN. The gradient passes where x &gt; 0 and is 0 elsewhere (also at 0).</summary>
    public static Tensor Relu(this Compute cx, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Size == 0) return cx.Output(x.Shape.ToArray(), zeroed: false, x);
        x = cx.Contiguous(x);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        ReluForward(x.Span, y.Span);
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                if (cx.NeedsGrad(x)) ReluBackward(x.Span, cx.GradOf(y), cx.GradOf(x));
            });
        }
        return y;
    }

    /// <summary>y = x ≤ 0 ? 0 : x (so NaN propagates and −0 becomes +0).</summary>
    internal static void ReluForward(ReadOnlySpan<float> x, Span<float> y, KernelPath? path = null)
    {
        if (y.Length != x.Length) throw new ArgumentException($"Relu: output has {y.Length} elements, input {x.Length}");
        var map = new ReluForwardMap(x, y);
        Simd.For(x.Length, ref map, Simd.Resolve(path, "Relu"));
    }

    /// <summary>gx += x &gt; 0 ? gy : 0.</summary>
    internal static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx, KernelPath? path = null)
    {
        if (gy.Length != x.Length || gx.Length != x.Length)
            throw new ArgumentException($"Relu: gradients have {gy.Length} and {gx.Length} elements, input {x.Length}");
        var map = new ReluBackwardMap(x, gy, gx);
        Simd.For(x.Length, ref map, Simd.Resolve(path, "Relu"));
    }

    private readonly ref struct ReluForwardMap(ReadOnlySpan<float> x, Span<float> y) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var v = T.Load(_x, i);
            T.Store(T.AndNot(v, T.LessOrEqual(v, T.Create(0f))), _y, i);
        }
    }

    private readonly ref struct ReluBackwardMap(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx) : IMap
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly ReadOnlySpan<float> _gy = gy;
        private readonly Span<float> _gx = gx;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<T>(int i) where T : struct, ISimd<T>
        {
            var pass = T.LessThan(T.Create(0f), T.Load(_x, i));
            T.Store(T.Load(_gx, i) + T.And(T.Load(_gy, i), pass), _gx, i);
        }
    }
}

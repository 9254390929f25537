using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        switch (ReluPath(path))
        {
            case KernelPath.Avx512:
                for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                    Vector512.AndNot(v, Vector512.LessThanOrEqual(v, Vector512<float>.Zero)).StoreUnsafe(ref yr, (nuint)i);
                }
                break;
            case KernelPath.Avx2:
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                    Vector256.AndNot(v, Vector256.LessThanOrEqual(v, Vector256<float>.Zero)).StoreUnsafe(ref yr, (nuint)i);
                }
                break;
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref xr, i);
            Unsafe.Add(ref yr, i) = v <= 0f ? 0f : v;
        }
    }

    /// <summary>gx += x &gt; 0 ? gy : 0.</summary>
    internal static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> gx, KernelPath? path = null)
    {
        if (gy.Length != x.Length || gx.Length != x.Length)
            throw new ArgumentException($"Relu: gradients have {gy.Length} and {gx.Length} elements, input {x.Length}");
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float gyr = ref MemoryMarshal.GetReference(gy);
        ref float gxr = ref MemoryMarshal.GetReference(gx);
        int n = x.Length, i = 0;
        switch (ReluPath(path))
        {
            case KernelPath.Avx512:
                for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var pass = Vector512.GreaterThan(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512<float>.Zero);
                    var g = Vector512.LoadUnsafe(ref gxr, (nuint)i) + (Vector512.LoadUnsafe(ref gyr, (nuint)i) & pass);
                    g.StoreUnsafe(ref gxr, (nuint)i);
                }
                break;
            case KernelPath.Avx2:
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var pass = Vector256.GreaterThan(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256<float>.Zero);
                    var g = Vector256.LoadUnsafe(ref gxr, (nuint)i) + (Vector256.LoadUnsafe(ref gyr, (nuint)i) & pass);
                    g.StoreUnsafe(ref gxr, (nuint)i);
                }
                break;
        }
        for (; i < n; i++)
            if (Unsafe.Add(ref xr, i) > 0f) Unsafe.Add(ref gxr, i) += Unsafe.Add(ref gyr, i);
    }

    private static KernelPath ReluPath(KernelPath? path)
    {
        var p = path ?? KernelPaths.Best;
        if (!KernelPaths.IsSupported(p)) throw new PlatformNotSupportedException($"Relu: kernel path {p} is not supported on this CPU");
        return p;
    }
}

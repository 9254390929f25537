using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Per-batch a_i·b_i for a [B, m, k] and b [B, k, n], or b [B, n, k] with <paramref name="transposeB"/>
    /// (attention scores Q·Kᵀ); the result is [B, m, n].
    /// </summary>
    public static Tensor BatchedMatMul(this Compute cx, Tensor a, Tensor b, bool transposeB = false)
    {
        if (a.Rank != 3 || b.Rank != 3)
            throw new ArgumentException($"BatchedMatMul: expected rank-3 operands, got {a.Describe()} and {b.Describe()}");
        int batch = a.Dim(0), m = a.Dim(1), k = a.Dim(2);
        int bk = transposeB ? b.Dim(2) : b.Dim(1), n = transposeB ? b.Dim(1) : b.Dim(2);
        if (b.Dim(0) != batch || bk != k)
            throw new ArgumentException($"BatchedMatMul: shape mismatch between {a.Describe()} and {b.Describe()}{(transposeB ? " (transposed)" : "")}");
        a = cx.Contiguous(a);
        b = cx.Contiguous(b);
        int ldb = transposeB ? k : n;
        var y = cx.Output([batch, m, n], zeroed: false, a, b);
        Gemm.MultiplyBatched(batch, m, n, k, a.Span, m * k, k, false, b.Span, k * n, ldb, transposeB, y.Span, m * n, n);

        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                var gy = cx.GradOf(y);
                // dA_i = dC_i·op(B_i)ᵀ
                if (cx.NeedsGrad(a))
                    Gemm.MultiplyBatched(batch, m, k, n, gy, m * n, n, false, b.Span, k * n, ldb, !transposeB, cx.GradOf(a), m * k, k, 1f);
                if (!cx.NeedsGrad(b)) return;
                // dB_i = A_iᵀ·dC_i, or its transpose dC_iᵀ·A_i when b is [B, n, k].
                if (transposeB)
                    Gemm.MultiplyBatched(batch, n, k, m, gy, m * n, n, true, a.Span, m * k, k, false, cx.GradOf(b), n * k, k, 1f);
                else
                    Gemm.MultiplyBatched(batch, k, n, m, a.Span, m * k, k, true, gy, m * n, n, false, cx.GradOf(b), k * n, n, 1f);
            });
        }
        return y;
    }
}

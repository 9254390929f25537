namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Single-precision matrix multiply: C = op(A)·op(B) + beta·C, row-major, with leading dimensions.
/// op(A) is m×k (A stored k×m when transposeA), op(B) is k×n (B stored n×k when transposeB).
/// </summary>
public static class Gemm
{
    public static void Multiply(
        int m, int n, int k,
        ReadOnlySpan<float> a, int lda, bool transposeA,
        ReadOnlySpan<float> b, int ldb, bool transposeB,
        Span<float> c, int ldc, float beta = 0f)
    {
        // Placeholder reference implementation; replaced by the packed, threaded kernels.
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float sum = 0;
            for (int p = 0; p < k; p++)
                sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = sum + (beta == 0f ? 0f : beta * c[i * ldc + j]);
        }
    }
}

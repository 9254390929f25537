using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// a·b where a is [..., k] (leading axes flattened into rows) and b is [k, n], or [n, k] with
    /// <paramref name="transposeB"/> (the nn.Linear weight layout); the result is [..., n]. b may be F16/BF16
    /// storage (weights as loaded), widened inside the kernel; such a b cannot receive a gradient.
    /// A b that is a transposed view is read in place rather than copied.
    /// </summary>
    public static Tensor MatMul(this Compute cx, Tensor a, Tensor b, bool transposeB = false)
    {
        if (a.Rank < 1 || b.Rank != 2)
            throw new ArgumentException($"MatMul: expected a of rank ≥ 1 and a rank-2 b, got {a.Describe()} and {b.Describe()}");
        int k = a.Dim(-1);
        int bk = transposeB ? b.Dim(1) : b.Dim(0), n = transposeB ? b.Dim(0) : b.Dim(1);
        if (k != bk)
            throw new ArgumentException($"MatMul: shape mismatch between {a.Describe()} and {b.Describe()}{(transposeB ? " (transposed)" : "")}: inner dimensions {k} and {bk} differ");
        var factors = cx.NeedsGrad(b) ? cx.Tape!.FactorsOf(b) : null;
        if (b.DType != DType.F32 && cx.NeedsGrad(b) && factors is null)
            throw new ArgumentException($"MatMul: {b.Describe()} is {b.DType} and cannot receive a dense gradient; convert it to F32 first or factor its gradient (Tape.FactorGradientOf)");

        a = cx.Contiguous(a);
        var operand = MatrixOperand.Of(cx, b, transposeB);
        var outShape = a.Shape.ToArray();
        outShape[^1] = n;
        int m = Tensor.Product(a.Shape[..^1]);
        var y = cx.Output(outShape, zeroed: false, a, b);
        // Quantized weights may meet 8-bit activations (llama.cpp's prefill), with or without a tape so the forward
        // values never depend on it; the gradient w.r.t. a takes the dequantized f32 weights.
        operand.Multiply(m, n, k, a.Span, k, false, y.Span, n, beta: 0f, integerActivations: QuantizedPrefill.UsesInt8(b.DType));

        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                var gy = cx.GradOf(y);
                // dA = dC·op(B)ᵀ
                if (cx.NeedsGrad(a)) operand.Multiply(m, k, n, gy, n, false, cx.GradOf(a), k, beta: 1f, transposeOperand: true);
                if (factors is not null)
                {
                    factors.AddProduct(a.Span, gy, m, k, n, transposeB);
                    return;
                }
                if (!cx.NeedsGrad(operand.Source)) return;
                // dB = op(A)ᵀ·dC, laid out like b: [k, n], or [n, k] when b is used transposed.
                if (transposeB) Gemm.Multiply(n, k, m, gy, n, true, a.Span, k, false, cx.GradOf(operand.Source), k, 1f);
                else Gemm.Multiply(k, n, m, a.Span, k, true, gy, n, false, cx.GradOf(operand.Source), n, 1f);
            });
        }
        return y;
    }

    /// <summary>
    /// A rank-2 right-hand operand as the GEMM sees it: its storage, leading dimension and whether it is read
    /// transposed. Views with a unit stride on either axis are used in place; anything else is made contiguous.
    /// </summary>
    private readonly struct MatrixOperand
    {
        /// <summary>The tensor gradients flow into (the caller's b, or the copy that routes to it).</summary>
        public Tensor Source { get; }
        private readonly Tensor _data;
        private readonly int _ld;
        private readonly bool _transposed;

        private MatrixOperand(Tensor source, Tensor data, int ld, bool transposed)
        {
            Source = source;
            _data = data;
            _ld = ld;
            _transposed = transposed;
        }

        public static MatrixOperand Of(Compute cx, Tensor b, bool transposeB)
        {
            if (b.DType.IsQuantized())
            {
                // Blocks are read in place when the view is whole blocks of rows (a row slice, or a column slice on
                // block boundaries); any other view of quantized weights is dequantized.
                int block = b.DType.BlockElements();
                if ((b.Strides[1] == 1 || b.Dim(1) == 1) && b.Offset % block == 0 && b.Strides[0] % block == 0 && b.Dim(1) % block == 0 && b.Strides[0] >= b.Dim(1))
                    return new(b, b, b.Strides[0], transposeB);
                var dequantized = b.Contiguous();
                return new(dequantized, dequantized, Math.Max(1, dequantized.Dim(1)), transposeB);
            }
            if (b.Strides[1] == 1 || b.Dim(1) == 1) return new(b, b, Math.Max(b.Strides[0], Math.Max(1, b.Dim(1))), transposeB);
            if (b.Strides[0] == 1 || b.Dim(0) == 1) return new(b, b, Math.Max(b.Strides[1], Math.Max(1, b.Dim(0))), !transposeB);
            var copy = b.DType == DType.F32 ? cx.Contiguous(b) : b.Contiguous();
            return new(copy, copy, Math.Max(1, copy.Dim(1)), transposeB);
        }

        /// <summary>
        /// C = A·op(B) + beta·C, or A·op(B)ᵀ with <paramref name="transposeOperand"/>. With
        /// <paramref name="integerActivations"/>, quantized weights used transposed take <see cref="QuantizedGemm"/>.
        /// </summary>
        public void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, bool transposeA, Span<float> c, int ldc, float beta,
            bool transposeOperand = false, bool integerActivations = false)
        {
            bool transposed = _transposed ^ transposeOperand;
            if (integerActivations && transposed && !transposeA && _data.DType.IsQuantized())
                QuantizedGemm.Multiply(m, n, k, a, lda, _data.Storage.AsBytes()[(int)_data.DType.ByteCount(_data.Offset)..], _data.DType, _ld, c, ldc, beta);
            else if (_data.DType == DType.F32)
                Gemm.Multiply(m, n, k, a, lda, transposeA, _data.Storage.AsFloat32()[_data.Offset..], _ld, transposed, c, ldc, beta);
            else if (_data.DType.IsQuantized())
                Gemm.Multiply(m, n, k, a, lda, transposeA, _data.Storage.AsBytes()[(int)_data.DType.ByteCount(_data.Offset)..], _data.DType, _ld, transposed, c, ldc, beta);
            else
                Gemm.Multiply(m, n, k, a, lda, transposeA, _data.Storage.AsHalfBits()[_data.Offset..], _data.DType, _ld, transposed, c, ldc, beta);
        }
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine.Kernels;

/// <summary>
/// The quantized kernels against dequantize-then-f32: the integer-dot GEMV on every instruction set (exactly, up to
/// f32 rounding, once the activation is replaced by its own 8-bit rounding; within the 8-bit bound against the f32
/// activation) and the packed GEMM path that dequantizes B's panels (to f32 rounding).
/// </summary>
public class QuantizedKernelTests
{
    public static readonly DType[] Kinds = [DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];

    public static TheoryData<KernelPath, DType> PathsAndKinds()
    {
        var data = new TheoryData<KernelPath, DType>();
        foreach (var p in KernelPaths.Supported)
            foreach (var t in Kinds) data.Add(p, t);
        return data;
    }

    private static float[] Random(Random rng, int count, float scale = 1f) =>
        Enumerable.Range(0, count).Select(_ => (rng.NextSingle() * 2 - 1) * scale).ToArray();

    /// <summary>Random weights [n, k] quantized as <paramref name="type"/>, and their dequantized values.</summary>
    private static (byte[] Blocks, float[] Values) Weights(Random rng, DType type, int n, int k)
    {
        var w = Random(rng, n * k);
        // Rows of different magnitudes, so per-block scales matter.
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++) w[r * k + j] *= 1 + r % 5;
        var blocks = new byte[type.ByteCount(w.Length)];
        BlockQuantization.Quantize(type, w, blocks);
        var values = new float[w.Length];
        BlockQuantization.Dequantize(type, blocks, values);
        return (blocks, values);
    }

    /// <summary>Values per activation scale for <paramref name="type"/>'s kernels: the K-quants' 256-value super-block (ggml's Q8_K), else 32.</summary>
    private static int ActivationBlock(DType type) => type is DType.Q4_K or DType.Q5_K or DType.Q6_K ? 256 : 32;

    /// <summary>The activation as the GEMV sees it: each block rounded to 8 bits of its max.</summary>
    private static float[] Rounded8Bit(float[] x, int block)
    {
        var y = new float[x.Length];
        for (int b = 0; b < x.Length / block; b++)
        {
            float amax = 0f;
            for (int j = 0; j < block; j++) amax = MathF.Max(amax, MathF.Abs(x[block * b + j]));
            float d = amax / 127f, id = amax > 0 ? 127f / amax : 0f;
            for (int j = 0; j < block; j++) y[block * b + j] = d * (int)MathF.Round(x[block * b + j] * id);
        }
        return y;
    }

    private static double Dot(float[] w, int row, int k, float[] x)
    {
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)w[row * k + j] * x[j];
        return s;
    }

    [Theory]
    [MemberData(nameof(PathsAndKinds))]
    public void GemvIsTheIntegerDotOfTheDequantizedRows(KernelPath path, DType type)
    {
        var rng = new Random(3 + (int)type);
        foreach (var (n, k) in new[] { (1, 256), (7, 512), (300, 768), (2000, 256) })
        {
            var (blocks, w) = Weights(rng, type, n, k);
            var x = Random(rng, k, 2f);
            x[5] = 0f;
            var y = new float[n];
            Gemm.Multiply(1, n, k, x, k, false, blocks, type, k, true, y, n, 0f, path);
            int block = ActivationBlock(type);
            var x8 = Rounded8Bit(x, block);
            var blockMax = Enumerable.Range(0, k / block).Select(b => x.Skip(block * b).Take(block).Max(Math.Abs)).ToArray();
            double bound8 = 0;
            for (int r = 0; r < n; r++)
            {
                double exact = Dot(w, r, k, x8), scale = 0;
                for (int j = 0; j < k; j++) scale += Math.Abs(w[r * k + j] * x8[j]);
                Assert.True(Math.Abs(y[r] - exact) <= 1e-5 * scale + 1e-6, $"{path} {type} n={n} k={k} row {r}: {y[r]} vs {exact}");
                // Against the f32 activation: at most half a step (max|x_block|/254) per value.
                double bound = 0;
                for (int j = 0; j < k; j++) bound += Math.Abs(w[r * k + j]) * blockMax[j / block] / 254;
                Assert.True(Math.Abs(y[r] - Dot(w, r, k, x)) <= bound * 1.001 + 1e-5, $"{path} {type} row {r}: 8-bit activations moved the dot beyond their bound");
                bound8 = Math.Max(bound8, bound);
            }
            Assert.True(bound8 > 0);
        }
    }

    [Theory]
    [MemberData(nameof(PathsAndKinds))]
    public void GemvAccumulatesIntoBeta(KernelPath path, DType type)
    {
        var rng = new Random(17);
        int n = 40, k = 256;
        var (blocks, _) = Weights(rng, type, n, k);
        var x = Random(rng, k);
        var fresh = new float[n];
        Gemm.Multiply(1, n, k, x, k, false, blocks, type, k, true, fresh, n, 0f, path);
        var y = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        Gemm.Multiply(1, n, k, x, k, false, blocks, type, k, true, y, n, 0.5f, path);
        for (int i = 0; i < n; i++) Assert.Equal(fresh[i] + 0.5f * i, y[i], 4);
    }

    /// <summary>
    /// The 8-bit prefill GEMM: every row of A against every weight row is the integer dot of the dequantized row with
    /// A's own 8-bit rounding, on shapes with row counts that are and are not multiples of the four-row kernel, odd
    /// block counts, strided A, C and W (a view of whole blocks of columns) and beta.
    /// </summary>
    [Theory]
    [MemberData(nameof(PathsAndKinds))]
    public void PrefillGemmIsTheIntegerDotOfTheDequantizedRows(KernelPath path, DType type)
    {
        var rng = new Random(23 + (int)type);
        int block = type.BlockElements();
        foreach (var (m, n, k, extraColumns) in new[] { (2, 33, 256, 0), (4, 7, 768, 0), (13, 70, 512, 256), (37, 300, 1280, 0), (5, 9, 96, 32) })
        {
            int ldw = k + extraColumns, lda = k + 3, ldc = n + 5;
            if (k % block != 0 || ldw % block != 0) continue;
            var (blocks, w) = Weights(rng, type, n, ldw);
            var a = Random(rng, m * lda, 2f);
            a[7] = 0f;
            var c = Random(rng, m * ldc);
            var before = (float[])c.Clone();
            QuantizedGemm.Multiply(m, n, k, a, lda, blocks, type, ldw, c, ldc, 0.5f, path);
            for (int i = 0; i < m; i++)
            {
                var x8 = Rounded8Bit(a.AsSpan(i * lda, k).ToArray(), ActivationBlock(type));
                for (int r = 0; r < n; r++)
                {
                    double exact = 0, scale = 0;
                    for (int j = 0; j < k; j++)
                    {
                        exact += (double)w[r * ldw + j] * x8[j];
                        scale += Math.Abs(w[r * ldw + j] * x8[j]);
                    }
                    float expected = (float)exact + 0.5f * before[i * ldc + r];
                    Assert.True(Math.Abs(c[i * ldc + r] - expected) <= 1e-5 * scale + 1e-5, $"{path} {type} m={m} n={n} k={k} [{i},{r}]: {c[i * ldc + r]} vs {expected}");
                }
                // C's padding between rows is untouched.
                for (int r = n; r < ldc && i * ldc + r < c.Length; r++) Assert.Equal(before[i * ldc + r], c[i * ldc + r]);
            }
        }
    }

    /// <summary>
    /// The K-quants' interleaved-panel GEMM (<see cref="QuantizedPanelGemm"/>) on every instruction set gives the scalar
    /// reference's floats bit for bit: the same integer sums and the same fused f32 steps per super-block, on a short
    /// last tile of activation rows and a last row group of fewer than eight rows.
    /// </summary>
    [Fact]
    public void PanelGemmPathsAgreeBitForBit()
    {
        var rng = new Random(29);
        foreach (var type in Kinds.Where(QuantizedPanelGemm.Supports))
        {
            int m = 7, n = 8 * 3 + 5, k = 768;
            var (blocks, _) = Weights(rng, type, n, k);
            var a = Random(rng, m * k, 3f);
            var reference = new float[m * n];
            QuantizedGemm.Multiply(m, n, k, a, k, blocks, type, k, reference, n, 0f, KernelPath.Scalar);
            Assert.Contains(reference, v => v != 0f);
            foreach (var path in KernelPaths.Supported)
            {
                var c = new float[m * n];
                QuantizedGemm.Multiply(m, n, k, a, k, blocks, type, k, c, n, 0f, path);
                for (int i = 0; i < c.Length; i++) Assert.True(BitConverter.SingleToInt32Bits(reference[i]) == BitConverter.SingleToInt32Bits(c[i]), $"{type} {path} [{i / n},{i % n}]: {c[i]} vs {reference[i]}");
            }
        }
    }

    /// <summary>
    /// Q8_0's interleaved panel on ragged shapes (m not a multiple of the four-token tile, n not of the eight-row group,
    /// k of 1, 3, 9 and 13 blocks: whole and partial eight-block packing passes, no 256-value super-blocks) and at the
    /// extreme levels: rows of −128 (which other quantizers write) or ±127 against activations of ±127 with the same
    /// signs, so every byte-product pair is 2·128·127 = 32,512 and any int16 sum of two records would saturate. Each
    /// entry is the integer dot of the dequantized row with the activation's own 8-bit rounding, and the vector paths
    /// give the scalar reference's floats bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(KernelTesting.Paths), MemberType = typeof(KernelTesting))]
    public void Q8_0PanelIsTheIntegerDotOnRaggedShapesAndExtremeLevels(KernelPath path)
    {
        var rng = new Random(61);
        foreach (var (m, n, k) in new[] { (4, 8, 32), (5, 13, 96), (7, 21, 288), (13, 9, 416) })
        {
            var (blocks, _) = Weights(rng, DType.Q8_0, n, k);
            for (int r = 0; r < n; r++)
            for (int b = 0; b < k / 32; b++)
            {
                var block = blocks.AsSpan((r * k / 32 + b) * 34, 34);
                // Row 0: all −128; row 1: all 127; row 2: ±127 at random; the others as quantized.
                if (r < 3) for (int j = 0; j < 32; j++) block[2 + j] = r == 0 ? (byte)0x80 : r == 1 || rng.Next(2) == 0 ? (byte)127 : unchecked((byte)(sbyte)-127);
            }
            var w = new float[n * k];
            BlockQuantization.Dequantize(DType.Q8_0, blocks, w);
            var a = Random(rng, m * k, 2f);
            // Token 0 is −1 everywhere (levels −127: every product with row 0 is +128·127), token 1 +1, token 2 row 2's signs.
            for (int j = 0; j < k; j++)
            {
                a[j] = -1f;
                if (m > 1) a[k + j] = 1f;
                if (m > 2) a[2 * k + j] = Math.Sign(w[2 * k + j]);
            }
            var c = new float[m * n];
            QuantizedGemm.Multiply(m, n, k, a, k, blocks, DType.Q8_0, k, c, n, 0f, path);
            var reference = new float[m * n];
            QuantizedGemm.Multiply(m, n, k, a, k, blocks, DType.Q8_0, k, reference, n, 0f, KernelPath.Scalar);
            for (int i = 0; i < m; i++)
            {
                var x8 = Rounded8Bit(a.AsSpan(i * k, k).ToArray(), 32);
                for (int r = 0; r < n; r++)
                {
                    double exact = Dot(w, r, k, x8), scale = 0;
                    for (int j = 0; j < k; j++) scale += Math.Abs(w[r * k + j] * x8[j]);
                    float got = c[i * n + r];
                    Assert.True(Math.Abs(got - exact) <= 1e-5 * scale + 1e-6, $"{path} m={m} n={n} k={k} [{i},{r}]: {got} vs {exact}");
                    Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(reference[i * n + r]), $"{path} [{i},{r}]: {got} vs scalar {reference[i * n + r]}");
                }
            }
            // The saturating case is really there: token 0 against row 0 is Σ 128·127·d·D > 0 over all k values.
            Assert.True(c[0] > 0 && Math.Abs(c[0] - Dot(w, 0, k, Rounded8Bit(a.AsSpan(0, k).ToArray(), 32))) <= 1e-5 * Math.Abs(c[0]));
        }
    }

    /// <summary>The four-row kernels give each row what the decode GEMV gives it alone.</summary>
    [Fact]
    public void PrefillGemmMatchesTheDecodeGemvRowByRow()
    {
        var rng = new Random(41);
        foreach (var type in Kinds)
        {
            int m = 9, n = 65, k = 512;
            var (blocks, _) = Weights(rng, type, n, k);
            var a = Random(rng, m * k);
            var gemm = new float[m * n];
            QuantizedGemm.Multiply(m, n, k, a, k, blocks, type, k, gemm, n);
            for (int i = 0; i < m; i++)
            {
                var row = new float[n];
                Gemm.Multiply(1, n, k, a.AsSpan(i * k, k), k, false, blocks, type, k, true, row, n);
                for (int r = 0; r < n; r++) Assert.True(Math.Abs(row[r] - gemm[i * n + r]) <= 1e-4f * (1 + Math.Abs(row[r])), $"{type} [{i},{r}]: {gemm[i * n + r]} vs {row[r]}");
            }
        }
    }

    /// <summary>
    /// MatMul's choice: by default (<see cref="QuantizedPrefillMode.Auto"/>) K-quant and Q8_0 weights take the 8-bit GEMM
    /// (their interleaved panels) and Q4_0 the f32 one; <see cref="QuantizedPrefillMode.F32"/> and <see cref="QuantizedPrefillMode.Int8"/> force either. The
    /// forward is the same with and without a tape, and the gradient w.r.t. the activations is dy·W on the dequantized
    /// weights (the mode is per thread, scoped).
    /// </summary>
    [Fact]
    public void MatMulTakesTheSameGemmWithAndWithoutAGradient()
    {
        var rng = new Random(8);
        int m = 6, n = 40, k = 256;
        var values = Random(rng, m * k);
        foreach (var type in new[] { DType.Q4_K, DType.Q8_0, DType.Q4_0 })
        {
            var (blocks, dequantized) = Weights(rng, type, n, k);
            var w = new Tensor(Storage.FromBlocks(blocks, type, n * k), 0, [n, k]);
            var int8 = new float[m * n];
            QuantizedGemm.Multiply(m, n, k, values, k, blocks, type, k, int8, n);
            var f32 = new float[m * n];
            Gemm.Multiply(m, n, k, values, k, false, blocks, type, k, true, f32, n, 0f);
            Assert.True(f32.Zip(int8, (p, q) => Math.Abs(p - q)).Max() > 1e-4f, "the two paths should differ by the activations' rounding");

            foreach (var (mode, expected) in new[] { ((QuantizedPrefillMode?)null, type == DType.Q4_0 ? f32 : int8), (QuantizedPrefillMode.F32, f32), (QuantizedPrefillMode.Int8, int8) })
            {
                using var scope = mode is { } chosen ? QuantizedPrefill.Use(chosen) : null;
                Assert.Equal(expected, Compute.Eager.MatMul(Tensor.FromArray(values, m, k), w, transposeB: true).ToArray());
                var x = Tensor.FromArray(values, m, k);
                x.RequiresGrad = true;
                var tape = new Tape();
                var cx = new Compute(tape);
                var y = cx.MatMul(x, w, transposeB: true);
                Assert.Equal(expected, y.ToArray());
                tape.Backward(cx.Sum(y));
                // d(sum y)/dx[i, j] = Σ_r w[r, j]
                var grad = x.Grad!.ToArray();
                for (int j = 0; j < k; j++)
                {
                    double column = 0;
                    for (int r = 0; r < n; r++) column += dequantized[r * k + j];
                    for (int i = 0; i < m; i++) Assert.True(Math.Abs(grad[i * k + j] - column) <= 1e-4 * (1 + Math.Abs(column)), $"{type} {mode} dx[{i},{j}] {grad[i * k + j]} vs {column}");
                }
            }
        }
        Assert.Equal(QuantizedPrefillMode.Auto, QuantizedPrefill.Mode);
    }

    /// <summary>The prefill mode variable: the three modes in any case, unset is auto; anything else is one line naming it.</summary>
    [Fact]
    public void PrefillModeRequestsAreChecked()
    {
        foreach (var ok in new[] { null, "", "auto", "F32", "Int8" }) QuantizedPrefill.CheckRequest(ok);
        var error = Assert.Throws<ArgumentException>(() => QuantizedPrefill.CheckRequest("int4"));
        Assert.Contains(QuantizedPrefill.EnvironmentVariable + "=int4", error.Message);
        Assert.Contains("auto, f32 or int8", error.Message);
    }

    /// <summary>
    /// Prefill (several rows, B used transposed) and the gradient through the weights (B as stored), on shapes that
    /// cross KC slices, partial tiles and the thread split, against the f32 GEMM on the dequantized weights.
    /// </summary>
    [Theory]
    [MemberData(nameof(PathsAndKinds))]
    public void PackedGemmDequantizesPanels(KernelPath path, DType type)
    {
        var rng = new Random(5);
        foreach (var (m, n, k) in new[] { (2, 33, 256), (13, 70, 512), (64, 300, 768), (1, 40, 256), (200, 512, 256) })
        foreach (bool transposed in new[] { true, false })
        {
            // Stored matrix: [n, k] when used transposed, [k, n] otherwise (rows are always the block direction).
            int rows = transposed ? n : k, cols = transposed ? k : n;
            if (cols % type.BlockElements() != 0) continue;
            var (blocks, w) = Weights(rng, type, rows, cols);
            var a = Random(rng, m * k);
            var expected = new float[m * n];
            var actual = new float[m * n];
            Gemm.Multiply(m, n, k, a, k, false, w, cols, transposed, expected, n, 0f, path);
            Gemm.Multiply(m, n, k, a, k, false, blocks, type, cols, transposed, actual, n, 0f, path);
            if (m == 1 && transposed) continue; // the integer GEMV, checked above
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{path} {type} m={m} n={n} k={k} transposed={transposed} [{i}]: {actual[i]} vs {expected[i]}");
        }
    }

    /// <summary>The K-quants' packed (scale, min) pairs unpacked all at once on 32-bit words are <see cref="BlockQuantization.ScaleMin"/>'s one by one.</summary>
    [Fact]
    public unsafe void ScalesAndMinsUnpackAsScaleMin()
    {
        var rng = new Random(12);
        var packed = new byte[12];
        for (int trial = 0; trial < 500; trial++)
        {
            rng.NextBytes(packed);
            fixed (byte* p = packed)
            {
                BlockQuantization.ScalesAndMins(p, out ulong scales, out ulong mins);
                for (int j = 0; j < 8; j++)
                    Assert.Equal(BlockQuantization.ScaleMin(p, j), ((int)(byte)(scales >> (8 * j)), (int)(byte)(mins >> (8 * j))));
            }
        }
    }

    /// <summary>
    /// The largest levels and scales against activations at their extremes (±127): the byte and word multiply-adds
    /// must not saturate, so every instruction set gives the scalar integer dot (to f32 rounding).
    /// </summary>
    [Theory]
    [MemberData(nameof(PathsAndKinds))]
    public void ExtremeLevelsDoNotSaturate(KernelPath path, DType type)
    {
        int n = 4, k = 512;
        var blocks = new byte[type.ByteCount(n * k)];
        // All bits set: the largest level of every kind, and scale bytes of 0xFF (K-quant scales and mins 63, Q6_K scale −1);
        // row 1 sets Q6_K's scales to −128 and 127, row 2 and 3 keep random bytes; the f16 scales are 1.
        new Random(9).NextBytes(blocks);
        int bb = type.BlockBytes();
        for (int b = 0; b < blocks.Length / bb; b++)
        {
            var block = blocks.AsSpan(b * bb, bb);
            if (b < k / type.BlockElements()) block.Fill(0xFF);
            if (b >= k / type.BlockElements() && b < 2 * k / type.BlockElements()) { block.Fill(0xFF); if (type == DType.Q6_K) for (int g = 0; g < 16; g++) block[192 + g] = (byte)(g % 2 == 0 ? 0x80 : 0x7F); }
            foreach (int at in type switch { DType.Q6_K => new[] { 208 }, DType.Q4_K or DType.Q5_K => new[] { 0, 2 }, _ => new[] { 0 } })
                BitConverter.TryWriteBytes(block[at..], BitConverter.HalfToUInt16Bits((Half)1f));
        }
        foreach (var x in new[] { Enumerable.Repeat(1f, k).ToArray(), Enumerable.Range(0, k).Select(i => i % 3 == 0 ? -1f : 1f).ToArray() })
        {
            var expected = new float[n];
            var actual = new float[n];
            Gemm.Multiply(1, n, k, x, k, false, blocks, type, k, true, expected, n, 0f, KernelPath.Scalar);
            Gemm.Multiply(1, n, k, x, k, false, blocks, type, k, true, actual, n, 0f, path);
            for (int r = 0; r < n; r++) Assert.True(Math.Abs(expected[r] - actual[r]) <= 1e-5f * (1 + Math.Abs(expected[r])), $"{path} {type} row {r}: {actual[r]} vs {expected[r]}");
        }
    }

    [Fact]
    public void BlocksThatDoNotFitAreRefused()
    {
        var blocks = new byte[DType.Q4_K.ByteCount(256)];
        var y = new float[1];
        // Rows of 128 values are half a Q4_K block.
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(1, 2, 128, new float[128], 128, false, blocks, DType.Q4_K, 128, true, y, 1, 0f));
        // Two rows of 256 need twice the bytes.
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(1, 2, 256, new float[256], 256, false, blocks, DType.Q4_K, 256, true, new float[2], 2, 0f));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(2, 2, 256, new float[512], 256, blocks, DType.Q4_K, 256, new float[4], 2));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(2, 1, 128, new float[256], 128, blocks, DType.Q4_K, 256, new float[2], 1));
        Assert.Throws<ArgumentException>(() => QuantizedGemm.Multiply(2, 1, 256, new float[300], 256, blocks, DType.Q4_K, 256, new float[2], 1));
    }
}

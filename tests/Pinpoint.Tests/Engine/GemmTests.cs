using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class GemmTests
{
    public static TheoryData<KernelPath> Paths()
    {
        var data = new TheoryData<KernelPath>();
        foreach (var p in KernelPaths.Supported) data.Add(p);
        return data;
    }

    // (m, n, k): ones, odd sizes, partial MR/NR tiles, several KC slices, more rows than MC, more columns than NC,
    // GEMV shapes (m = 1) and products large enough to be split across threads along either side.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (1, 7, 3), (3, 1, 5), (2, 3, 1), (5, 5, 5), (13, 33, 17), (12, 32, 64), (25, 65, 257),
        (37, 70, 300), (20, 64, 40), (128, 96, 70), (1, 100, 50), (1, 1030, 517), (250, 40, 20), (7, 2100, 9), (64, 300, 200), (300, 40, 200),
        // Few rows (a prompt against a weight, B read in place or through L1 panels): both bounds, k deeper than a panel, many columns split across threads.
        (16, 33, 300), (11, 70, 129), (4, 2100, 257), (2, 1, 3),
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public void MatchesDoubleReferenceOnEveryShapeAndLayout(KernelPath path)
    {
        var rng = new Random(7);
        foreach (var (m, n, k) in Shapes)
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (float beta in new[] { 0f, 1f, 0.5f })
        {
            int pad = rng.Next(0, 3) * 3;
            var x = new Problem(rng, m, n, k, ta, tb, pad);
            var c = x.InitialC(rng, beta);
            var expected = x.Reference(c, beta);
            Gemm.Multiply(m, n, k, x.A, x.Lda, ta, x.B, x.Ldb, tb, c, x.Ldc, beta, path);
            x.AssertClose(expected, c, $"{path} m={m} n={n} k={k} ta={ta} tb={tb} beta={beta} pad={pad}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void HalfPrecisionBIsWidenedWhilePacking(KernelPath path)
    {
        var rng = new Random(11);
        foreach (var dtype in new[] { DType.BF16, DType.F16 })
        foreach (var (m, n, k) in new[] { (1, 37, 19), (1, 1030, 40), (13, 33, 17), (40, 70, 300), (11, 70, 300), (3, 2100, 40) })
        foreach (bool tb in new[] { false, true })
        {
            var x = new Problem(rng, m, n, k, false, tb, 2);
            var bits = new ushort[x.B.Length];
            for (int i = 0; i < bits.Length; i++)
            {
                bits[i] = dtype == DType.BF16
                    ? (ushort)(BitConverter.SingleToInt32Bits(x.B[i]) >> 16)
                    : BitConverter.HalfToUInt16Bits((Half)x.B[i]);
                x.B[i] = HalfConversion.ToSingle(bits[i], dtype);
            }
            var c = x.InitialC(rng, 1f);
            var expected = x.Reference(c, 1f);
            Gemm.Multiply(m, n, k, x.A, x.Lda, false, bits, dtype, x.Ldb, tb, c, x.Ldc, 1f, path);
            x.AssertClose(expected, c, $"{path} {dtype} m={m} n={n} k={k} tb={tb}");
        }
    }

    /// <summary>
    /// A few rows take their own kernel, but each row's bits must not depend on how many rows the call has (a
    /// prompt alone and the same prompt inside a batch give identical activations, which patching relies on).
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void FewRowsGiveTheSameBitsAsTheSameRowsInATallerProduct(KernelPath path)
    {
        if (!FewRowsGemm.Applies(path, 11, false, DType.F32)) return; // the scalar path has no few-rows kernel
        var rng = new Random(13);
        const int tall = 40, few = 11, n = 70, k = 300;
        foreach (var dtype in new[] { DType.F32, DType.BF16 })
        foreach (bool tb in new[] { false, true })
        foreach (float beta in new[] { 0f, 1f })
        {
            var x = new Problem(rng, tall, n, k, false, tb, 0);
            var bits = x.B.Select(v => (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)).ToArray();
            var cTall = x.InitialC(rng, beta);
            var cFew = cTall[..(few * x.Ldc)];
            void Multiply(int m, float[] c)
            {
                if (dtype == DType.F32) Gemm.Multiply(m, n, k, x.A, x.Lda, false, x.B, x.Ldb, tb, c, x.Ldc, beta, path);
                else Gemm.Multiply(m, n, k, x.A, x.Lda, false, bits, dtype, x.Ldb, tb, c, x.Ldc, beta, path);
            }
            Multiply(tall, cTall);
            Multiply(few, cFew);
            Assert.True(cFew.AsSpan().SequenceEqual(cTall.AsSpan(0, few * x.Ldc)), $"{path} {dtype} tb={tb} beta={beta}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BatchedMatchesPerItemProducts(KernelPath path)
    {
        var rng = new Random(3);
        // The last shape is large enough for each product to be split across threads instead of the batch.
        foreach (var (batch, m, n, k) in new[] { (3, 5, 7, 9), (4, 16, 16, 8), (2, 100, 200, 210) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (bool shareB in new[] { false, true })
        {
            var items = Enumerable.Range(0, batch).Select(_ => new Problem(rng, m, n, k, ta, tb, 0)).ToArray();
            if (shareB) foreach (var item in items) items[0].B.CopyTo(item.B, 0);
            int sa = items[0].A.Length, sb = shareB ? 0 : items[0].B.Length, sc = m * n;
            var a = items.SelectMany(p => p.A).ToArray();
            var b = shareB ? items[0].B : items.SelectMany(p => p.B).ToArray();
            var c = new float[batch * sc];
            for (int i = 0; i < c.Length; i++) c[i] = (float)rng.NextDouble();
            var expected = items.SelectMany((p, i) => p.Reference(c.AsSpan(i * sc, sc).ToArray(), 1f)).ToArray();
            Gemm.MultiplyBatched(batch, m, n, k, a, sa, items[0].Lda, ta, b, sb, items[0].Ldb, tb, c, sc, n, 1f, path);
            items[0].AssertClose(expected, c, $"{path} batch={batch} m={m} n={n} k={k} ta={ta} tb={tb} shareB={shareB}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void GemvWithMostlyZeroXMatchesReference(KernelPath path)
    {
        // A one-hot or sparse x (a logit-difference gradient) skips B's rows; groups of four that are partly zero must not.
        var rng = new Random(5);
        foreach (var (n, k) in new[] { (37, 19), (1030, 300) })
        foreach (bool tb in new[] { false, true })
        foreach (bool half in new[] { false, true })
        {
            var x = new Problem(rng, 1, n, k, false, tb, 0);
            for (int p = 0; p < k; p++) if (p % 7 != 3 && p != k - 1) x.A[p] = 0f;
            var bits = new ushort[x.B.Length];
            for (int i = 0; i < bits.Length; i++)
            {
                bits[i] = (ushort)(BitConverter.SingleToInt32Bits(x.B[i]) >> 16);
                if (half) x.B[i] = HalfConversion.ToSingle(bits[i], DType.BF16);
            }
            var c = x.InitialC(rng, 1f);
            var expected = x.Reference(c, 1f);
            if (half) Gemm.Multiply(1, n, k, x.A, x.Lda, false, bits, DType.BF16, x.Ldb, tb, c, x.Ldc, 1f, path);
            else Gemm.Multiply(1, n, k, x.A, x.Lda, false, x.B, x.Ldb, tb, c, x.Ldc, 1f, path);
            x.AssertClose(expected, c, $"{path} n={n} k={k} tb={tb} bf16={half}");
        }
    }

    [Fact]
    public void ZeroDepthScalesC()
    {
        var c = new[] { 1f, 2f, 3f, 4f };
        Gemm.Multiply(2, 2, 0, [], 1, false, [], 2, false, c, 2, 0.5f);
        Assert.Equal([0.5f, 1f, 1.5f, 2f], c);
    }

    [Fact]
    public void ShortBuffersAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(4, 4, 4, new float[15], 4, false, new float[16], 4, false, new float[16], 4));
        Assert.Contains("A", ex.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(4, 4, 4, new float[16], 3, false, new float[16], 4, false, new float[16], 4));
    }

    [Fact]
    public void SteadyStateGemmAndGemvDoNotAllocate()
    {
        var rng = new Random(5);
        var a = new float[128 * 768];
        var b = new float[768 * 3072];
        var c = new float[128 * 3072];
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble();
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        void Run()
        {
            Gemm.Multiply(128, 768, 768, a, 768, false, b, 768, false, c, 768);
            Gemm.Multiply(1, 3072, 768, a, 768, false, b, 3072, false, c, 3072);
            Gemm.Multiply(1, 768, 768, a, 768, false, b, 768, true, c, 768);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Run();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    /// <summary>Random operands stored as the transpose flags say, with leading dimensions padded by <c>pad</c>.</summary>
    private sealed class Problem
    {
        public readonly int M, N, K, Lda, Ldb, Ldc;
        public readonly bool Ta, Tb;
        public readonly float[] A, B;

        public Problem(Random rng, int m, int n, int k, bool ta, bool tb, int pad)
        {
            (M, N, K, Ta, Tb) = (m, n, k, ta, tb);
            Lda = (ta ? m : k) + pad;
            Ldb = (tb ? k : n) + pad;
            Ldc = n + pad;
            A = Fill(rng, (ta ? k : m) * Lda);
            B = Fill(rng, (tb ? n : k) * Ldb);
        }

        public float[] InitialC(Random rng, float beta)
        {
            var c = new float[M * Ldc];
            // C must not be read when beta is 0, so NaN there would leak into the result.
            for (int i = 0; i < c.Length; i++) c[i] = beta == 0f ? float.NaN : (float)(rng.NextDouble() * 2 - 1);
            return c;
        }

        public float[] Reference(float[] c, float beta)
        {
            var expected = (float[])c.Clone();
            for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
            {
                double sum = 0;
                for (int p = 0; p < K; p++)
                    sum += (double)(Ta ? A[p * Lda + i] : A[i * Lda + p]) * (Tb ? B[j * Ldb + p] : B[p * Ldb + j]);
                expected[i * Ldc + j] = (float)(sum + (beta == 0f ? 0 : beta * (double)c[i * Ldc + j]));
            }
            return expected;
        }

        public void AssertClose(float[] expected, float[] actual, string what)
        {
            double tolerance = 1e-5 * (K + 2);
            for (int i = 0; i < expected.Length; i++)
            {
                bool same = float.IsNaN(expected[i]) ? float.IsNaN(actual[i]) : Math.Abs(expected[i] - actual[i]) <= tolerance;
                Assert.True(same, $"{what}: element {i} is {actual[i]:G9}, expected {expected[i]:G9}");
            }
        }

        private static float[] Fill(Random rng, int length)
        {
            var x = new float[length];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            return x;
        }
    }
}

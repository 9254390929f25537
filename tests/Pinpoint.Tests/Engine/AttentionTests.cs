using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Tests.Engine.Kernels;

namespace Pinpoint.Tests.Engine;

public class AttentionTests
{
    public static TheoryData<KernelPath> Paths => new(KernelPaths.Supported);

    /// <summary>A configuration: sizes, which keys are real (null: all), and a note for failure messages.</summary>
    private sealed record Case(string Name, AttentionShape Shape, bool[]? Mask);

    private static AttentionShape Shape(int b, int t, int s, int hq, int hkv, int d, int? offset = null, float? scale = null)
        => new(b, t, s, hq, hkv, d, offset ?? s - t, scale ?? 1f / MathF.Sqrt(d));

    private static bool[] Mask(int batch, int keys, Func<int, int, bool> real)
    {
        var m = new bool[batch * keys];
        for (int b = 0; b < batch; b++)
        for (int s = 0; s < keys; s++) m[b * keys + s] = real(b, s);
        return m;
    }

    private static IEnumerable<Case> Cases()
    {
        yield return new("self-attention, GQA, left padding in row 1", Shape(2, 5, 5, 4, 2, 16), Mask(2, 5, (b, s) => b == 0 || s >= 2));
        yield return new("KV cache: 3 new queries over 9 keys", Shape(1, 3, 9, 6, 3, 20), null);
        yield return new("decode step, multi-query, custom scale", Shape(2, 1, 7, 4, 1, 8, scale: 0.3f), Mask(2, 7, (b, s) => s != 3));
        yield return new("two query blocks", Shape(1, 70, 70, 2, 2, 24), null);
        yield return new("offset below keys − queries hides the newest keys", Shape(1, 4, 12, 2, 1, 16, offset: 3), null);
        yield return new("padding inside full vectors", Shape(2, 20, 40, 2, 1, 8), Mask(2, 40, (b, s) => s % 7 != 3 && (b == 0 || s >= 17)));
        yield return new("row 1 fully padded", Shape(2, 3, 3, 2, 1, 8), Mask(2, 3, (b, _) => b == 0));
    }

    private static float[] RandomArray(Random rng, int n, float scale = 1) => GradCheck.Random(rng, scale, n).ToArray();

    private static bool Visible(in AttentionShape s, bool[]? mask, int b, int t, int key) => key <= s.QueryOffset + t && (mask is null || mask[b * s.Keys + key]);

    /// <summary>Probabilities of (b, h, t) over all keys, in double precision.</summary>
    private static double[] ReferenceRow(in AttentionShape s, float[] q, float[] k, bool[]? mask, int b, int h, int t, double[] scores)
    {
        var p = new double[s.Keys];
        int g = h / s.GroupSize;
        double max = double.NegativeInfinity;
        for (int key = 0; key < s.Keys; key++)
        {
            double dot = 0;
            for (int d = 0; d < s.HeadDim; d++) dot += (double)q[s.QueryIndex(b, t, h) + d] * k[s.KeyIndex(b, key, g) + d];
            scores[key] = Visible(s, mask, b, t, key) ? dot * s.Scale : double.NegativeInfinity;
            max = Math.Max(max, scores[key]);
        }
        if (double.IsNegativeInfinity(max)) return p;
        double sum = 0;
        for (int key = 0; key < s.Keys; key++) sum += p[key] = Math.Exp(scores[key] - max);
        for (int key = 0; key < s.Keys; key++) p[key] /= sum;
        return p;
    }

    private static (double[] Z, double[] Scores, double[] Pattern) ReferenceForward(in AttentionShape s, float[] q, float[] k, float[] v, bool[]? mask)
    {
        var z = new double[s.QueryLength];
        var scores = new double[s.PatternLength];
        var pattern = new double[s.PatternLength];
        var row = new double[s.Keys];
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.QueryHeads; h++)
        for (int t = 0; t < s.Queries; t++)
        {
            var p = ReferenceRow(s, q, k, mask, b, h, t, row);
            int at = ((b * s.QueryHeads + h) * s.Queries + t) * s.Keys;
            row.CopyTo(scores, at);
            p.CopyTo(pattern, at);
            for (int key = 0; key < s.Keys; key++)
            for (int d = 0; d < s.HeadDim; d++)
                z[s.QueryIndex(b, t, h) + d] += p[key] * v[s.KeyIndex(b, key, h / s.GroupSize) + d];
        }
        return (z, scores, pattern);
    }

    private static (double[] Dq, double[] Dk, double[] Dv) ReferenceBackward(in AttentionShape s, float[] q, float[] k, float[] v, bool[]? mask, float[] dz)
    {
        var dq = new double[s.QueryLength];
        var dk = new double[s.KeyLength];
        var dv = new double[s.KeyLength];
        var scores = new double[s.Keys];
        var dp = new double[s.Keys];
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.QueryHeads; h++)
        for (int t = 0; t < s.Queries; t++)
        {
            int g = h / s.GroupSize, qi = s.QueryIndex(b, t, h);
            var p = ReferenceRow(s, q, k, mask, b, h, t, scores);
            double c = 0;
            for (int key = 0; key < s.Keys; key++)
            {
                dp[key] = 0;
                for (int d = 0; d < s.HeadDim; d++) dp[key] += (double)dz[qi + d] * v[s.KeyIndex(b, key, g) + d];
                c += dp[key] * p[key];
            }
            for (int key = 0; key < s.Keys; key++)
            {
                double ds = p[key] * (dp[key] - c) * s.Scale;
                int ki = s.KeyIndex(b, key, g);
                for (int d = 0; d < s.HeadDim; d++)
                {
                    dq[qi + d] += ds * k[ki + d];
                    dk[ki + d] += ds * q[qi + d];
                    dv[ki + d] += p[key] * dz[qi + d];
                }
            }
        }
        return (dq, dk, dv);
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            if (double.IsNegativeInfinity(expected[i]))
            {
                Assert.True(float.IsNegativeInfinity(actual[i]), $"{what} element {i}: {actual[i]}, expected -inf");
                continue;
            }
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what} element {i}: {actual[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ForwardMatchesReference(KernelPath path)
    {
        var rng = new Random(21);
        foreach (var c in Cases())
        {
            var s = c.Shape;
            var q = RandomArray(rng, s.QueryLength, 2);
            var k = RandomArray(rng, s.KeyLength, 2);
            var v = RandomArray(rng, s.KeyLength);
            var z = new float[s.QueryLength];
            var scores = new float[s.PatternLength];
            var pattern = new float[s.PatternLength];
            var scratch = new float[Attention.ScratchLength(s)];
            Attention.Forward(s, q, k, v, c.Mask, z, scores, pattern, scratch, path);
            var expected = ReferenceForward(s, q, k, v, c.Mask);
            AssertClose(expected.Z, z, 1e-5, $"{c.Name}: z");
            AssertClose(expected.Scores, scores, 1e-5, $"{c.Name}: scores");
            AssertClose(expected.Pattern, pattern, 1e-5, $"{c.Name}: pattern");

            // Without scores or pattern requested, z is the same to the bit.
            var zOnly = new float[s.QueryLength];
            Attention.Forward(s, q, k, v, c.Mask, zOnly, default, default, scratch, path);
            Assert.Equal(z, zOnly);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void BackwardMatchesReference(KernelPath path)
    {
        var rng = new Random(22);
        foreach (var c in Cases())
        {
            var s = c.Shape;
            var q = RandomArray(rng, s.QueryLength, 2);
            var k = RandomArray(rng, s.KeyLength, 2);
            var v = RandomArray(rng, s.KeyLength);
            var dz = RandomArray(rng, s.QueryLength);
            var dq = new float[s.QueryLength];
            var dk = new float[s.KeyLength];
            var dv = new float[s.KeyLength];
            // Backward adds into the gradients: start from ones and subtract them afterwards.
            Array.Fill(dk, 1f);
            Attention.Backward(s, q, k, v, c.Mask, dz, dq, dk, dv, new float[Attention.ScratchLength(s)], path);
            for (int i = 0; i < dk.Length; i++) dk[i] -= 1f;
            var expected = ReferenceBackward(s, q, k, v, c.Mask, dz);
            AssertClose(expected.Dq, dq, 1e-4, $"{c.Name}: dq");
            AssertClose(expected.Dk, dk, 1e-4, $"{c.Name}: dk");
            AssertClose(expected.Dv, dv, 1e-4, $"{c.Name}: dv");
        }
    }

    [Fact]
    public void PatternRowsSumToOneAndFullyMaskedRowsAreZero()
    {
        var rng = new Random(23);
        var s = Shape(2, 6, 6, 4, 2, 8);
        var mask = Mask(2, 6, (b, key) => b == 0 ? key >= 3 : true);
        var q = RandomArray(rng, s.QueryLength, 3);
        var k = RandomArray(rng, s.KeyLength, 3);
        var v = RandomArray(rng, s.KeyLength);
        var z = new float[s.QueryLength];
        var pattern = new float[s.PatternLength];
        Attention.Forward(s, q, k, v, mask, z, default, pattern, new float[Attention.ScratchLength(s)]);
        Assert.All(z, x => Assert.True(float.IsFinite(x)));
        for (int b = 0; b < 2; b++)
        for (int h = 0; h < s.QueryHeads; h++)
        for (int t = 0; t < s.Queries; t++)
        {
            var row = pattern.AsSpan(((b * s.QueryHeads + h) * s.Queries + t) * s.Keys, s.Keys);
            // Batch row 0 pads keys 0–2, so its queries 0–2 see nothing.
            bool empty = b == 0 && t < 3;
            double sum = 0;
            foreach (var p in row) sum += p;
            Assert.True(Math.Abs(sum - (empty ? 0 : 1)) < 1e-5, $"row ({b}, {h}, {t}) sums to {sum}");
            if (empty) Assert.All(z.AsSpan(s.QueryIndex(b, t, h), s.HeadDim).ToArray(), x => Assert.Equal(0f, x));
        }
    }

    [Fact]
    public void LaterTokensDoNotChangeEarlierOutputs()
    {
        var rng = new Random(24);
        var q = GradCheck.Random(rng, 1, 1, 8, 4, 16);
        var k = GradCheck.Random(rng, 1, 1, 8, 2, 16);
        var v = GradCheck.Random(rng, 1, 1, 8, 2, 16);
        var before = Compute.Eager.Attention(q, k, v).Z.ToArray();
        const int changed = 5;
        foreach (var t in new[] { q, k, v })
        {
            var span = t.Span;
            int row = span.Length / 8;
            for (int i = changed * row; i < span.Length; i++) span[i] += 3f;
        }
        var after = Compute.Eager.Attention(q, k, v).Z.ToArray();
        int prefix = changed * 4 * 16;
        Assert.Equal(before.AsSpan(0, prefix), after.AsSpan(0, prefix));
        Assert.NotEqual(before.AsSpan(prefix).ToArray(), after.AsSpan(prefix).ToArray());
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(25);
        var q = GradCheck.Random(rng, 1, 2, 3, 4, 8);
        var k = GradCheck.Random(rng, 1, 2, 5, 2, 8);
        var v = GradCheck.Random(rng, 1, 2, 5, 2, 8);
        q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
        var options = new AttentionOptions { KeyMask = Mask(2, 5, (b, s) => b == 0 || s != 1) };
        GradCheck.Check((cx, x) => cx.Attention(x[0], x[1], x[2], options).Z, [q, k, v]);
        GradCheck.Check((cx, x) => cx.Attention(x[0], x[1], x[2], options with { QueryOffset = 1, Scale = 0.5f }).Z, [q, k, v]);
    }

    [Fact]
    public void GradientAcrossQueryBlocks()
    {
        var rng = new Random(26);
        var q = GradCheck.Random(rng, 1, 67, 2, 4);
        var k = GradCheck.Random(rng, 1, 67, 1, 4);
        var v = GradCheck.Random(rng, 1, 67, 1, 4);
        q.RequiresGrad = k.RequiresGrad = v.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.Attention(x[0], x[1], x[2]).Z, [q, k, v]);
    }

    [Fact]
    public void KernelDoesNotAllocateAfterWarmUp()
    {
        var rng = new Random(27);
        var s = Shape(2, 70, 80, 4, 2, 32);
        var q = RandomArray(rng, s.QueryLength);
        var k = RandomArray(rng, s.KeyLength);
        var v = RandomArray(rng, s.KeyLength);
        var mask = Mask(2, 80, (b, key) => key >= b);
        var z = new float[s.QueryLength];
        var pattern = new float[s.PatternLength];
        var scores = new float[s.PatternLength];
        var dq = new float[s.QueryLength];
        var dk = new float[s.KeyLength];
        var dv = new float[s.KeyLength];
        var scratch = new float[Attention.ScratchLength(s)];
        foreach (var path in KernelPaths.Supported)
            KernelTesting.AssertSteadyStateDoesNotAllocate(() => Run(path), what: $"attention on {path}");

        void Run(KernelPath path)
        {
            Attention.Forward(s, q, k, v, mask, z, default, default, scratch, path);
            Attention.Forward(s, q, k, v, mask, z, scores, pattern, scratch, path);
            Attention.Backward(s, q, k, v, mask, z, dq, dk, dv, scratch, path);
        }
    }

    [Fact]
    public void OpReturnsPatternAndScoresOnlyWhenAsked()
    {
        var rng = new Random(28);
        var q = GradCheck.Random(rng, 1, 2, 4, 8);
        var k = GradCheck.Random(rng, 1, 6, 1, 8);
        var v = GradCheck.Random(rng, 1, 6, 1, 8);
        var plain = Compute.Eager.Attention(q, k, v);
        Assert.Null(plain.Scores);
        Assert.Null(plain.Pattern);
        Assert.Equal([2, 4, 8], plain.Z.Shape.ToArray());

        var hooked = Compute.Eager.Attention(q, k, v, new AttentionOptions { ReturnScores = true, ReturnPattern = true });
        Assert.Equal([4, 2, 6], hooked.Pattern!.Shape.ToArray());
        Assert.Equal(plain.Z.ToArray(), hooked.Z.ToArray());
        // Unbatched, queries default to the two newest of six keys: query 0 sits at position 4.
        Assert.True(float.IsNegativeInfinity(hooked.Scores![0, 0, 5]));
        Assert.Equal(0f, hooked.Pattern[0, 0, 5]);
        Assert.True(float.IsFinite(hooked.Scores[0, 1, 5]));
    }

    [Fact]
    public void RejectsHeadCountsThatDoNotGroup()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Attention(Tensor.Zeros(1, 2, 3, 4), Tensor.Zeros(1, 2, 2, 4), Tensor.Zeros(1, 2, 2, 4)));
        Assert.Contains("not a multiple", ex.Message);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class AttentionFromPatternOpTests
{
    private static bool[] Mask(int batch, int keys, Func<int, int, bool> real)
    {
        var m = new bool[batch * keys];
        for (int b = 0; b < batch; b++)
        for (int s = 0; s < keys; s++) m[b * keys + s] = real(b, s);
        return m;
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what} element {i}: {actual[i]} vs {expected[i]}");
    }

    public static TheoryData<string, int, int, int, int, int, int> Cases => new()
    {
        // name, batch, queries, keys, queryHeads, kvHeads, headDim
        { "GQA self-attention with left padding and a fully padded row", 3, 5, 5, 4, 2, 16 },
        { "multi-query, KV cache (3 queries over 9 keys)", 2, 3, 9, 6, 1, 20 },
        { "plain multi-head, odd sizes", 2, 7, 7, 3, 3, 5 },
        { "two query blocks, GQA", 1, 70, 70, 4, 2, 8 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFusedAttentionGivenItsPattern(string name, int batch, int queries, int keys, int queryHeads, int kvHeads, int headDim)
    {
        var rng = new Random(51);
        var q = GradCheck.Random(rng, 2, batch, queries, queryHeads, headDim);
        var k = GradCheck.Random(rng, 2, batch, keys, kvHeads, headDim);
        var v = GradCheck.Random(rng, 1, batch, keys, kvHeads, headDim);
        // Row 0 real; row 1 left-padded by two; row 2 (when present) entirely padding.
        var mask = Mask(batch, keys, (b, s) => b == 0 || (b == 1 && s >= 2));
        var fused = Compute.Eager.Attention(q, k, v, new AttentionOptions { KeyMask = mask, ReturnPattern = true });
        Assert.Equal([batch, queryHeads, queries, keys], fused.Pattern!.Shape.ToArray());
        var z = Compute.Eager.AttentionFromPattern(fused.Pattern, v);
        Assert.Equal(fused.Z.Shape.ToArray(), z.Shape.ToArray());
        AssertClose(fused.Z.Span, z.Span, 1e-5, name);
    }

    [Fact]
    public void MatchesFusedAttentionUnbatched()
    {
        var rng = new Random(52);
        var q = GradCheck.Random(rng, 2, 4, 4, 8);
        var k = GradCheck.Random(rng, 2, 6, 2, 8);
        var v = GradCheck.Random(rng, 1, 6, 2, 8);
        var fused = Compute.Eager.Attention(q, k, v, new AttentionOptions { ReturnPattern = true });
        Assert.Equal([4, 4, 6], fused.Pattern!.Shape.ToArray());
        var z = Compute.Eager.AttentionFromPattern(fused.Pattern, v);
        Assert.Equal([4, 4, 8], z.Shape.ToArray());
        AssertClose(fused.Z.Span, z.Span, 1e-5, "unbatched");
    }

    [Fact]
    public void ReplacedPatternIsUsedAsGiven()
    {
        // A uniform pattern over all keys, ignoring causality: every query gets the mean of its KV head's values.
        int b = 2, t = 3, s = 4, hq = 4, hkv = 2, d = 3;
        var v = GradCheck.Random(new Random(53), 1, b, s, hkv, d);
        var z = Compute.Eager.AttentionFromPattern(Tensor.Full(1f / s, b, hq, t, s), v);
        for (int bi = 0; bi < b; bi++)
        for (int ti = 0; ti < t; ti++)
        for (int h = 0; h < hq; h++)
        for (int di = 0; di < d; di++)
        {
            double mean = 0;
            for (int si = 0; si < s; si++) mean += v[bi, si, h / 2, di] / s;
            Assert.True(Math.Abs(z[bi, ti, h, di] - mean) < 1e-6, $"z[{bi}, {ti}, {h}, {di}] = {z[bi, ti, h, di]}, expected {mean}");
        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(54);
        var pattern = GradCheck.Random(rng, 1, 2, 4, 3, 5);
        var v = GradCheck.Random(rng, 1, 2, 5, 2, 6);
        pattern.RequiresGrad = v.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.AttentionFromPattern(x[0], x[1]), [pattern, v], maxProbes: 120);

        // Multi-query (every query head shares one KV head), unbatched.
        var p1 = GradCheck.Random(rng, 1, 3, 4, 4);
        var v1 = GradCheck.Random(rng, 1, 4, 1, 5);
        p1.RequiresGrad = v1.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.AttentionFromPattern(x[0], x[1]), [p1, v1], maxProbes: 120);
    }

    [Fact]
    public void GradientReachesStridedInputs()
    {
        var rng = new Random(55);
        // v given as [B, Hkv, S, D] and transposed into place, as after a permuting hook.
        var pattern = GradCheck.Random(rng, 1, 1, 4, 3, 5);
        var vt = GradCheck.Random(rng, 1, 1, 2, 5, 6);
        pattern.RequiresGrad = vt.RequiresGrad = true;
        GradCheck.Check((cx, x) => cx.AttentionFromPattern(x[0], cx.Transpose(x[1], 1, 2)), [pattern, vt]);
    }

    [Fact]
    public void ValueGradientMatchesFusedAttentionUnderGqa()
    {
        var rng = new Random(56);
        int b = 2, t = 6, s = 6, hq = 6, hkv = 2, d = 8;
        var q = GradCheck.Random(rng, 2, b, t, hq, d);
        var k = GradCheck.Random(rng, 2, b, s, hkv, d);
        var v = GradCheck.Random(rng, 1, b, s, hkv, d);
        var dz = GradCheck.Random(rng, 1, b, t, hq, d);
        var options = new AttentionOptions { KeyMask = Mask(b, s, (bi, si) => bi == 0 || si >= 1), ReturnPattern = true };

        v.RequiresGrad = true;
        var tape = new Tape();
        var fused = new Compute(tape).Attention(q, k, v, options);
        tape.Backward(fused.Z, dz);
        var fusedDv = v.Grad!.ToArray();

        v.Grad = null;
        var tape2 = new Tape();
        var z = new Compute(tape2).AttentionFromPattern(fused.Pattern!, v);
        Assert.Null(fused.Pattern!.Grad);
        tape2.Backward(z, dz);
        AssertClose(fusedDv, v.Grad!.Span, 1e-5, "dv");
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        void Expect(Tensor pattern, Tensor v, string contains)
        {
            var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.AttentionFromPattern(pattern, v));
            Assert.Contains(pattern.ShapeString, ex.Message);
            Assert.Contains(v.ShapeString, ex.Message);
            Assert.Contains(contains, ex.Message);
        }
        Expect(Tensor.Zeros(2, 4, 3, 5), Tensor.Zeros(2, 6, 2, 8), "keys");
        Expect(Tensor.Zeros(2, 4, 3, 5), Tensor.Zeros(1, 5, 2, 8), "batch");
        Expect(Tensor.Zeros(2, 3, 3, 5), Tensor.Zeros(2, 5, 2, 8), "not a multiple");
        Expect(Tensor.Zeros(4, 3, 5), Tensor.Zeros(2, 5, 2, 8), "expected");
        Expect(Tensor.Zeros(2, 4, 3, 5, 1), Tensor.Zeros(2, 5, 2, 8, 1), "expected");
    }

    [Fact]
    public void EmptySizesGiveEmptyOrZeroOutputs()
    {
        var z = Compute.Eager.AttentionFromPattern(Tensor.Zeros(1, 2, 3, 0), Tensor.Zeros(1, 0, 1, 4));
        Assert.Equal([1, 3, 2, 4], z.Shape.ToArray());
        Assert.All(z.ToArray(), x => Assert.Equal(0f, x));
        Assert.Equal([1, 0, 2, 4], Compute.Eager.AttentionFromPattern(Tensor.Zeros(1, 2, 0, 3), Tensor.Zeros(1, 3, 1, 4)).Shape.ToArray());
    }
}

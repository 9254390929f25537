using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class RopeTests
{
    public static TheoryData<KernelPath> Paths => new(KernelPaths.Supported);

    /// <summary>Rotation computed from scratch in double precision, pair by pair.</summary>
    private static double[] Reference(float[] x, int batch, int seq, int heads, int headDim, int rot, double theta, RopeLayout layout, Func<int, int, int> position)
    {
        var y = x.Select(v => (double)v).ToArray();
        int half = rot / 2;
        for (int b = 0; b < batch; b++)
        for (int t = 0; t < seq; t++)
        for (int h = 0; h < heads; h++)
        {
            int o = ((b * seq + t) * heads + h) * headDim;
            for (int i = 0; i < half; i++)
            {
                double angle = position(b, t) * Math.Pow(theta, -2.0 * i / rot);
                int first = o + (layout == RopeLayout.Half ? i : 2 * i);
                int second = first + (layout == RopeLayout.Half ? half : 1);
                double a = x[first], c = x[second];
                y[first] = a * Math.Cos(angle) - c * Math.Sin(angle);
                y[second] = c * Math.Cos(angle) + a * Math.Sin(angle);
            }
        }
        return y;
    }

    private static float[] RandomArray(Random rng, int n) => GradCheck.Random(rng, 1, n).ToArray();

    [Theory]
    [MemberData(nameof(Paths))]
    public void MatchesReferenceForBothLayoutsAndPartialRotary(KernelPath path)
    {
        var rng = new Random(7);
        // headDim 80 with rotaryDim 80, 40 and 20 exercises full vectors, vector + tail, and tail-only rotation.
        foreach (var layout in Enum.GetValues<RopeLayout>())
        foreach (var rot in new[] { 80, 40, 20, 6 })
        {
            const int batch = 2, seq = 5, heads = 3, headDim = 80, offset = 7;
            var table = new RopeTable(64, rot, 500000, layout);
            var x = RandomArray(rng, batch * seq * heads * headDim);
            var y = new float[x.Length];
            Rope.Apply(x, y, batch, seq, heads, headDim, table, positionOffset: offset, path: path);
            var expected = Reference(x, batch, seq, heads, headDim, rot, 500000, layout, (_, t) => offset + t);
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) < 2e-5, $"{layout} rot {rot} element {i}: {y[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ExplicitPositionsPerSequenceAndPerBatchRow(KernelPath path)
    {
        var rng = new Random(8);
        const int batch = 2, seq = 4, heads = 2, headDim = 32;
        var table = new RopeTable(40, headDim);
        var x = RandomArray(rng, batch * seq * heads * headDim);
        var y = new float[x.Length];

        int[] shared = [3, 9, 1, 30];
        Rope.Apply(x, y, batch, seq, heads, headDim, table, shared, positionOffset: 2, path: path);
        AssertClose(Reference(x, batch, seq, heads, headDim, headDim, 10000, RopeLayout.Half, (_, t) => 2 + shared[t]), y);

        // Left padding: row 1 starts two tokens late, so its positions lag by two.
        int[] perRow = [0, 1, 2, 3, 0, 0, 0, 1];
        Rope.Apply(x, y, batch, seq, heads, headDim, table, perRow, path: path);
        AssertClose(Reference(x, batch, seq, heads, headDim, headDim, 10000, RopeLayout.Half, (b, t) => perRow[b * seq + t]), y);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void InterleavedEqualsHalfAfterPermutingDimensions(KernelPath path)
    {
        // Converting Meta weights to HF permutes each head's q/k rows so interleaved dim 2i ↔ half dim i and
        // 2i+1 ↔ i + rot/2; the two layouts must then agree exactly up to that permutation.
        var rng = new Random(9);
        const int seq = 6, heads = 2, headDim = 48, rot = 32;
        var half = new RopeTable(16, rot, 10000, RopeLayout.Half);
        var inter = new RopeTable(16, rot, 10000, RopeLayout.Interleaved);
        var x = RandomArray(rng, seq * heads * headDim);
        int[] perm = new int[headDim]; // interleaved dim → half dim
        for (int j = 0; j < headDim; j++) perm[j] = j >= rot ? j : j % 2 == 0 ? j / 2 : j / 2 + rot / 2;
        var xi = new float[x.Length];
        for (int r = 0; r < seq * heads; r++)
        for (int j = 0; j < headDim; j++) xi[r * headDim + j] = x[r * headDim + perm[j]];

        var yh = new float[x.Length];
        var yi = new float[x.Length];
        Rope.Apply(x, yh, 1, seq, heads, headDim, half, positionOffset: 3, path: path);
        Rope.Apply(xi, yi, 1, seq, heads, headDim, inter, positionOffset: 3, path: path);
        for (int r = 0; r < seq * heads; r++)
        for (int j = 0; j < headDim; j++)
            Assert.True(Math.Abs(yi[r * headDim + j] - yh[r * headDim + perm[j]]) < 1e-5, $"row {r} dim {j}");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PartialRotaryLeavesTailUntouchedAndInverseUndoes(KernelPath path)
    {
        var rng = new Random(10);
        const int seq = 5, heads = 4, headDim = 64, rot = 16; // Pythia: rotary_pct 0.25
        foreach (var layout in Enum.GetValues<RopeLayout>())
        {
            var table = new RopeTable(8, rot, 10000, layout);
            var x = RandomArray(rng, seq * heads * headDim);
            var y = new float[x.Length];
            Rope.Apply(x, y, 1, seq, heads, headDim, table, path: path);
            for (int r = 0; r < seq * heads; r++)
                Assert.Equal(x.AsSpan(r * headDim + rot, headDim - rot), y.AsSpan(r * headDim + rot, headDim - rot));
            // In place, by the negated angle.
            Rope.Apply(y, y, 1, seq, heads, headDim, table, inverse: true, path: path);
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) < 1e-5, $"{layout} element {i}");
        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(11);
        foreach (var layout in Enum.GetValues<RopeLayout>())
        {
            var table = new RopeTable(32, 12, 10000, layout);
            var x = GradCheck.Random(rng, 1, 2, 3, 2, 16);
            x.RequiresGrad = true;
            GradCheck.Check((cx, t) => cx.Rope(t[0], table, positionOffset: 4), [x]);
            int[] positions = [5, 0, 9, 2, 2, 2];
            GradCheck.Check((cx, t) => cx.Rope(t[0], table, positions: positions), [x]);
        }
    }

    [Fact]
    public void AcceptsUnbatchedInputAndMatchesBatchedRow()
    {
        var rng = new Random(12);
        var table = new RopeTable(16, 8);
        var x = GradCheck.Random(rng, 1, 1, 4, 2, 8);
        var batched = Compute.Eager.Rope(x, table, positionOffset: 3).ToArray();
        var single = Compute.Eager.Rope(x.View(4, 2, 8), table, positionOffset: 3);
        Assert.Equal([4, 2, 8], single.Shape.ToArray());
        Assert.Equal(batched, single.ToArray());
    }

    [Fact]
    public void PositionOutsideTableIsRejected()
    {
        var table = new RopeTable(4, 8);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Compute.Eager.Rope(Tensor.Zeros(1, 3, 1, 8), table, positionOffset: 2));
        Assert.Contains("position 4", ex.Message);
        Assert.Throws<ArgumentException>(() => Compute.Eager.Rope(Tensor.Zeros(1, 3, 1, 4), table));
    }

    private static void AssertClose(double[] expected, float[] actual)
    {
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) < 2e-5, $"element {i}: {actual[i]} vs {expected[i]}");
    }
}

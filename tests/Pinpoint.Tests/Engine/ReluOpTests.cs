using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class ReluOpTests
{
    public static TheoryData<KernelPath> Paths => new(KernelPaths.Supported);

    [Fact]
    public void ClampsNegativesAndKeepsNaN()
    {
        var x = Tensor.FromArray([-2f, -0f, 0f, 0.5f, 3f, float.NaN, float.NegativeInfinity, float.PositiveInfinity], 2, 4);
        var y = Compute.Eager.Relu(x);
        Assert.Equal([2, 4], y.Shape.ToArray());
        var ys = y.ToArray();
        Assert.Equal([0f, 0f, 0f, 0.5f, 3f], ys[..5]);
        Assert.False(float.IsNegative(ys[1]), "relu(-0) should be +0");
        Assert.True(float.IsNaN(ys[5]));
        Assert.Equal(0f, ys[6]);
        Assert.Equal(float.PositiveInfinity, ys[7]);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void KernelPathsMatchScalarDefinition(KernelPath path)
    {
        var rng = new Random(61);
        foreach (int n in new[] { 0, 1, 7, 8, 15, 16, 17, 63, 100 })
        {
            var x = GradCheck.Random(rng, 1, Math.Max(n, 1)).ToArray()[..n];
            if (n > 3) { x[1] = 0f; x[2] = -0f; x[3] = float.NaN; }
            var gy = GradCheck.Random(rng, 1, Math.Max(n, 1)).ToArray()[..n];
            var y = new float[n];
            var gx = Enumerable.Repeat(0.25f, n).ToArray();
            TensorOps.ReluForward(x, y, path);
            TensorOps.ReluBackward(x, gy, gx, path);
            for (int i = 0; i < n; i++)
            {
                float expectedY = float.IsNaN(x[i]) ? float.NaN : x[i] > 0 ? x[i] : 0f;
                Assert.Equal(expectedY, y[i]);
                Assert.Equal(x[i] > 0 ? 0.25f + gy[i] : 0.25f, gx[i]);
            }
        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(62), 1, 3, 4, 5);
        // Keep clear of the kink so central differences are exact.
        var s = x.Span;
        for (int i = 0; i < s.Length; i++) s[i] = s[i] >= 0 ? s[i] + 0.05f : s[i] - 0.05f;
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Relu(t[0]), [x]);
        GradCheck.Check((cx, t) => cx.Relu(cx.Transpose(t[0], 0, 2)), [x]);
    }

    [Fact]
    public void KernelRejectsMismatchedLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => TensorOps.ReluForward(new float[3], new float[4]));
        Assert.Contains("3", ex.Message);
        Assert.Contains("4", ex.Message);
        Assert.Throws<ArgumentException>(() => TensorOps.ReluBackward(new float[3], new float[3], new float[2]));
    }

    [Fact]
    public void KernelDoesNotAllocate()
    {
        var x = GradCheck.Random(new Random(63), 1, 1000).ToArray();
        var y = new float[1000];
        var g = new float[1000];
        foreach (var path in KernelPaths.Supported)
        {
            TensorOps.ReluForward(x, y, path);
            TensorOps.ReluBackward(x, y, g, path);
            long before = GC.GetAllocatedBytesForCurrentThread();
            TensorOps.ReluForward(x, y, path);
            TensorOps.ReluBackward(x, y, g, path);
            Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        }
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>SwiGLU and GeGLU: f(gate)·up.</summary>
public class GatedActivationOpTests
{
    [Theory]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    public void GradientsMatchFiniteDifferences(Activation f)
    {
        var rng = new Random(1);
        var gate = GradCheck.Random(rng, 4, 3, 21);
        var up = GradCheck.Random(rng, 2, 3, 21);
        gate.RequiresGrad = up.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Gated(t[0], t[1], f), [gate, up]);
    }

    [Fact]
    public void NamedOpsPickTheirActivation()
    {
        var x = Tensor.FromArray([1f], 1);
        var up = Tensor.FromArray([2f], 1);
        Assert.Equal(2 * 0.7310586f, Compute.Eager.SwiGlu(x, up).ToScalar(), 1e-6f);
        Assert.Equal(2 * 0.8413447f, Compute.Eager.GeGlu(x, up).ToScalar(), 1e-6f);
        Assert.Equal(2 * 0.8411920f, Compute.Eager.GeGlu(x, up, tanhApproximation: true).ToScalar(), 1e-6f);
    }

    [Fact]
    public void ShapeMismatchNamesBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.SwiGlu(Tensor.Zeros(2, 3), Tensor.Zeros(3, 2)));
        Assert.Contains("[2, 3]", ex.Message);
        Assert.Contains("[3, 2]", ex.Message);
    }
}

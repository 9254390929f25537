using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>GELU (exact and tanh) and SiLU.</summary>
public class ActivationOpTests
{
    [Theory]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    public void GradientsMatchFiniteDifferences(Activation f)
    {
        var rng = new Random(1);
        var x = GradCheck.Random(rng, 4, 3, 21);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.Activate(t[0], f), [x]);
    }

    [Fact]
    public void NamedOpsPickTheirActivation()
    {
        var x = Tensor.FromArray([1f], 1);
        Assert.Equal(0.7310586f, Compute.Eager.Silu(x).ToScalar(), 1e-6f);
        Assert.Equal(0.8413447f, Compute.Eager.Gelu(x).ToScalar(), 1e-6f);
        Assert.Equal(0.8411920f, Compute.Eager.GeluTanh(x).ToScalar(), 1e-6f);
    }
}

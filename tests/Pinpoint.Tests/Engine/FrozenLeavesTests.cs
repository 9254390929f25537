using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>
/// A frozen leaf (a parameter, when only activations' gradients are wanted) is a constant to the tape: it gets no
/// gradient through products, embedding lookups and norms, and the gradients of everything else are unchanged.
/// </summary>
public class FrozenLeavesTests
{
    private static Tensor Loss(Compute cx, Tensor w, Tensor table, Tensor gain, Tensor x)
    {
        // x [3, 6] · w [6, 4], normed with gain [4], plus rows 2, 0, 2 of table [5, 4].
        var y = cx.LayerNorm(cx.MatMul(x, w), gain, null, 1e-5f);
        var e = cx.Embedding(table, [2, 0, 2]);
        var z = cx.Add(y, e);
        return cx.Sum(cx.Mul(z, z));
    }

    [Fact]
    public void FrozenParametersTakeNoGradientAndTheActivationsTheSame()
    {
        var rng = new Random(3);
        Tensor Param(params int[] shape)
        {
            var t = GradCheck.Random(rng, 1, shape);
            t.RequiresGrad = true;
            return t;
        }
        var (w, table, gain, x) = (Param(6, 4), Param(5, 4), Param(4), Param(3, 6));

        var full = new Tape();
        full.Backward(Loss(new Compute(full), w, table, gain, x));
        var expected = x.Grad!.ToArray();
        Assert.NotNull(w.Grad);
        foreach (var t in new[] { w, table, gain, x }) t.Grad = null;

        var frozen = new Tape();
        frozen.Freeze([w, table, gain]);
        Assert.False(frozen.Wants(w));
        Assert.True(frozen.Wants(x));
        frozen.Backward(Loss(new Compute(frozen), w, table, gain, x));
        Assert.Null(w.Grad);
        Assert.Null(table.Grad);
        Assert.Null(gain.Grad);
        Assert.Equal(expected, x.Grad!.ToArray());
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class AssignOpTests
{
    /// <summary>y = x + c off the mask and a constant on it: the finite-difference gradient is 1 off the mask and 0 on it.</summary>
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var rng = new Random(3);
        var x = GradCheck.Random(rng, 1, 2, 3, 5);
        var mask = Tensor.Zeros(2, 3, 5);
        mask[.., 1].Fill(1);
        var offset = GradCheck.Random(rng, 1, 2, 3, 5);
        x.RequiresGrad = true;
        GradCheck.Check((cx, t) =>
        {
            // The edit as a trace makes it: the original plus an offset, with the masked elements set to 7.
            var values = Compute.Eager.Add(t[0], offset);
            values[.., 1].Fill(7);
            return cx.Assign(t[0], values, mask);
        }, [x]);
    }

    [Fact]
    public void OutputIsTheValues()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        var y = Compute.Eager.Assign(x, Tensor.FromArray([4f, 5f, 6f], 3), Tensor.FromArray([1f, 0f, 0f], 3));
        Assert.Equal([4f, 5f, 6f], y.ToArray());
    }
}

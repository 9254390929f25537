using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class SelectRowsOpTests
{
    [Fact]
    public void GathersRowsInOrderWithRepeats()
    {
        var x = Tensor.FromArray([0f, 1, 10, 11, 20, 21, 30, 31], 4, 2);
        var y = Compute.Eager.SelectRows(x, [3, 0, 3]);
        Assert.Equal([3, 2], y.Shape.ToArray());
        Assert.Equal([30f, 31, 0, 1, 30, 31], y.ToArray());
        Assert.Equal([0, 2], Compute.Eager.SelectRows(x, []).Shape.ToArray());
    }

    [Fact]
    public void LastPositionsOfABatch()
    {
        // [B·T, d] with B = 2, T = 3: the last position of each sequence is row b·T + T − 1.
        var x = GradCheck.Random(new Random(71), 1, 2, 3, 4);
        var y = Compute.Eager.SelectRows(x.View(6, 4), [2, 5]);
        Assert.Equal(x.Select(1, 2).ToArray(), y.ToArray());
    }

    [Fact]
    public void HigherRankRowsAreWholeSubTensors()
    {
        var x = GradCheck.Random(new Random(72), 1, 3, 2, 2);
        var y = Compute.Eager.SelectRows(x, [1]);
        Assert.Equal([1, 2, 2], y.Shape.ToArray());
        Assert.Equal(x.Select(0, 1).ToArray(), y.ToArray());
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        var x = GradCheck.Random(new Random(73), 1, 5, 3);
        x.RequiresGrad = true;
        // Row 4 is picked twice (its gradient is the sum), rows 1 and 3 not at all (gradient 0).
        GradCheck.Check((cx, t) => cx.SelectRows(t[0], [4, 0, 2, 4]), [x]);
        GradCheck.Check((cx, t) => cx.SelectRows(cx.Transpose(t[0], 0, 1), [2, 0]), [x]);
    }

    [Fact]
    public void IndicesAreCopiedForBackward()
    {
        var x = Tensor.Zeros(3, 2);
        x.RequiresGrad = true;
        int[] rows = [2];
        var tape = new Tape();
        var y = new Compute(tape).SelectRows(x, rows);
        rows[0] = 0;
        tape.Backward(y, Tensor.Full(1f, 1, 2));
        Assert.Equal([0f, 0, 0, 0, 1, 1], x.Grad!.ToArray());
    }

    [Fact]
    public void RejectsRowsOutsideTheTensor()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.SelectRows(Tensor.Zeros(4, 2), [1, 4]));
        Assert.Contains("[4, 2]", ex.Message);
        Assert.Contains("4", ex.Message);
        Assert.Throws<ArgumentException>(() => Compute.Eager.SelectRows(Tensor.Zeros(4, 2), [-1]));
        Assert.Throws<ArgumentException>(() => Compute.Eager.SelectRows(Tensor.Scalar(1f), [0]));
    }
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>Writes through strided views land on exactly the viewed elements of the parent.</summary>
public class TensorWriteTests
{
    private static Tensor Counting(params int[] shape) => Tensor.FromArray(Enumerable.Range(0, Tensor.Product(shape)).Select(i => (float)i).ToArray(), shape);

    [Fact]
    public void IndicesPickAndRangesKeepAxes()
    {
        var t = Counting(2, 3, 4);
        Assert.Equal([4], t[1, ^1].Shape.ToArray());
        Assert.Equal([20f, 21f, 22f, 23f], t[1, ^1].ToArray());
        Assert.Equal([2, 2], t[.., 1.., 2].Shape.ToArray());
        Assert.Equal([2, 1], t[.., 1..^1, 2].Shape.ToArray());
        Assert.Equal([6f, 18f], t[.., 1, 2].ToArray());
        Assert.Contains("axis 0 (length 2)", Assert.Throws<IndexOutOfRangeException>(() => t[2, ..]).Message);
        Assert.Contains("^1", Assert.Throws<ArgumentOutOfRangeException>(() => t[-1, ..]).Message);
        Assert.Contains("t[0, ..]", Assert.Throws<ArgumentException>(() => t[0]).Message);
    }

    [Fact]
    public void FillCopyFromAndAddFromWriteOnlyTheView()
    {
        var t = Counting(2, 3, 4);
        t[.., 1, 2].Fill(-1);
        t[0, 0, ..].CopyFrom(Tensor.FromArray([9f, 9f, 9f, 9f], 4));
        t[.., 2, ..2].AddFrom(Tensor.FromArray([100f, 200f, 300f, 400f], 2, 2));
        var expected = Enumerable.Range(0, 24).Select(i => (float)i).ToArray();
        expected[6] = expected[18] = -1;
        for (int i = 0; i < 4; i++) expected[i] = 9;
        expected[8] += 100; expected[9] += 200; expected[20] += 300; expected[21] += 400;
        Assert.Equal(expected, t.ToArray());
    }

    [Fact]
    public void CopyFromItsOwnOverlappingViewReadsTheOldValues()
    {
        var t = Counting(5);
        t[1..].CopyFrom(t[..4]);
        Assert.Equal([0f, 0f, 1f, 2f, 3f], t.ToArray());
    }

    [Fact]
    public void MismatchedShapesNameBoth()
    {
        var t = Counting(2, 3);
        var e = Assert.Throws<ArgumentException>(() => t[0, ..].CopyFrom(Tensor.Zeros(2)));
        Assert.Contains("[2]", e.Message);
        Assert.Contains("[3]", e.Message);
    }
}

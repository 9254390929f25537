using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class EmbeddingOpTests
{
    [Fact]
    public void GathersRowsAndScatterAddsGradients()
    {
        var table = GradCheck.Random(new Random(1), 1, 6, 5);
        table.RequiresGrad = true;
        int[] ids = [3, 0, 3, 5];
        var y = Compute.Eager.Embedding(table, ids);
        Assert.Equal([4, 5], y.Shape.ToArray());
        Assert.Equal(table.Select(0, 3).ToArray(), y.Select(0, 2).ToArray());
        GradCheck.Check((cx, t) => cx.Embedding(t[0], ids), [table]);
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public unsafe void ConvertsHalfTablesRowByRow(DType dtype)
    {
        float[] values = [0.5f, -1.25f, 3f, 1024f, -0.0078125f, 7f];
        var bits = values.Select(v => dtype == DType.F16
            ? BitConverter.HalfToUInt16Bits((Half)v)
            : (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
        fixed (ushort* p = bits)
        {
            var table = new Tensor(new Storage((byte*)p, bits.Length, dtype, bits), 0, [3, 2]);
            var y = Compute.Eager.Embedding(table, [2, 0]);
            Assert.Equal([-0.0078125f, 7f, 0.5f, -1.25f], y.ToArray());
        }
    }

    [Fact]
    public void OutOfRangeIdNamesIdAndVocabulary()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Embedding(Tensor.Zeros(10, 4), [1, 10]));
        Assert.Contains("10", ex.Message);
        Assert.Contains("size 10", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Compute.Eager.Embedding(Tensor.Zeros(10, 4), [-1]));
        Assert.Contains("-1", ex.Message);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>
/// A weight used by two products (once as stored, once transposed) and an embedding lookup: the factored gradient's
/// blocks equal the dense gradient of the same graph, and a quantized weight (which cannot take a dense gradient)
/// gets the factors of its dequantized values' gradient.
/// </summary>
public class FactoredGradientTests
{
    private static Tensor Loss(Compute cx, Tensor w, Tensor x, Tensor h)
    {
        // w [6, 32]: x [3, 6]·w, h [2, 32]·wᵀ, and rows 1, 4, 1 looked up.
        var y1 = cx.MatMul(x, w);
        var y2 = cx.MatMul(h, w, transposeB: true);
        var e = cx.Embedding(w, [1, 4, 1]);
        return cx.Add(cx.Add(cx.Sum(cx.Mul(y1, y1)), cx.Sum(cx.Mul(y2, y2))), cx.Sum(cx.Mul(e, e)));
    }

    [Fact]
    public void BlocksEqualTheDenseGradient()
    {
        var rng = new Random(4);
        var x = GradCheck.Random(rng, 1, 3, 6);
        var h = GradCheck.Random(rng, 1, 2, 32);
        var w = GradCheck.Random(rng, 1, 6, 32);
        w.RequiresGrad = true;
        var dense = new Tape();
        dense.Backward(Loss(new Compute(dense), w, x, h));
        var expected = w.Grad!.ToArray();

        var view = new Tensor(w.Storage, w.Offset, [6, 32]) { RequiresGrad = true };
        var tape = new Tape();
        var factors = tape.FactorGradientOf(view);
        Assert.True(factors.IsEmpty);
        tape.Backward(Loss(new Compute(tape), view, x, h));
        Assert.Null(view.Grad);
        var block = new float[3 * 10];
        factors.Block(2, 3, 20, 10, block);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 10; c++)
                Assert.Equal(expected[(2 + r) * 32 + 20 + c], block[r * 10 + c], 1e-4f);
        Assert.Throws<ArgumentOutOfRangeException>(() => factors.Block(4, 3, 0, 32, new float[96]));
    }

    [Fact]
    public void AQuantizedWeightGetsTheGradientOfItsValues()
    {
        // f32 activations in the forward, as the dense reference has: only the weights' gradient is compared.
        using var f32Activations = QuantizedPrefill.Use(QuantizedPrefillMode.F32);
        var rng = new Random(9);
        var x = GradCheck.Random(rng, 1, 3, 6);
        var h = GradCheck.Random(rng, 1, 2, 32);
        var values = GradCheck.Random(rng, 1, 6, 32).ToArray();
        var blocks = new byte[DType.Q8_0.ByteCount(values.Length)];
        BlockQuantization.Quantize(DType.Q8_0, values, blocks);
        var q = new Tensor(Storage.FromBlocks(blocks, DType.Q8_0, values.Length), 0, [6, 32]) { RequiresGrad = true };
        var f32 = q.ToFloat32();
        f32.RequiresGrad = true;
        var dense = new Tape();
        dense.Backward(Loss(new Compute(dense), f32, x, h));

        var unfactored = new Tape();
        Assert.Throws<ArgumentException>(() => Loss(new Compute(unfactored), q, x, h));
        var tape = new Tape();
        var factors = tape.FactorGradientOf(q);
        tape.Backward(Loss(new Compute(tape), q, x, h));
        var all = new float[6 * 32];
        factors.Block(0, 6, 0, 32, all);
        var expected = f32.Grad!.ToArray();
        for (int i = 0; i < all.Length; i++) Assert.Equal(expected[i], all[i], 1e-3f);
    }
}

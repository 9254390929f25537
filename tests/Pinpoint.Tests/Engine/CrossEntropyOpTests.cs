using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

public class CrossEntropyOpTests
{
    [Fact]
    public void LossMatchesReferenceAndGradientMatchesFiniteDifferences()
    {
        var logits = GradCheck.Random(new Random(1), 3, 4, 23);
        int[] targets = [1, 22, 0, 7];
        double expected = 0;
        for (int r = 0; r < 4; r++)
        {
            var row = logits.Select(0, r).ToArray();
            double max = row.Max();
            expected += max + Math.Log(row.Sum(v => Math.Exp(v - max))) - row[targets[r]];
        }
        Assert.Equal(expected / 4, Compute.Eager.CrossEntropy(logits, targets).ToScalar(), 1e-5);
        logits.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.CrossEntropy(t[0], targets), [logits]);
        GradCheck.Check((cx, t) => cx.CrossEntropy(t[0], [1, -100, 3, -100], ignoreIndex: -100), [logits]);
    }

    [Fact]
    public void WeightedRowsGiveTheWeightedMeanAndItsGradient()
    {
        var logits = GradCheck.Random(new Random(2), 3, 4, 11);
        int[] targets = [3, 0, 10, 5];
        float[] weights = [1f, 4f, 0f, 0.5f];
        double weighted = 0;
        for (int r = 0; r < 4; r++)
            weighted += weights[r] * Compute.Eager.CrossEntropy(Tensor.FromArray(logits.Select(0, r).ToArray(), 1, 11), [targets[r]]).ToScalar();
        Assert.Equal(weighted / 5.5, Compute.Eager.CrossEntropy(logits, targets, weights: weights).ToScalar(), 1e-5);
        // Equal weights are the plain mean, whatever their size.
        Assert.Equal(Compute.Eager.CrossEntropy(logits, targets).ToScalar(), Compute.Eager.CrossEntropy(logits, targets, weights: [3f, 3f, 3f, 3f]).ToScalar(), 1e-6f);
        logits.RequiresGrad = true;
        GradCheck.Check((cx, t) => cx.CrossEntropy(t[0], targets, weights: weights), [logits]);
        GradCheck.Check((cx, t) => cx.CrossEntropy(t[0], [3, -100, 10, 5], ignoreIndex: -100, weights: weights), [logits]);
        Assert.Throws<ArgumentException>(() => Compute.Eager.CrossEntropy(logits, targets, weights: [1f, 1f]));
        Assert.Throws<ArgumentException>(() => Compute.Eager.CrossEntropy(logits, targets, weights: [1f, -1f, 1f, 1f]));
        Assert.Throws<ArgumentException>(() => Compute.Eager.CrossEntropy(logits, targets, weights: [1f, float.NaN, 1f, 1f]));
    }

    [Fact]
    public void IgnoredRowsAreLeftOutOfTheMean()
    {
        var logits = Tensor.FromArray([0f, 0f, 5f, -5f], 2, 2);
        float loss = Compute.Eager.CrossEntropy(logits, [0, -100], ignoreIndex: -100).ToScalar();
        Assert.Equal(MathF.Log(2), loss, 1e-6f);
        Assert.Equal(0f, Compute.Eager.CrossEntropy(logits, [-100, -100], ignoreIndex: -100).ToScalar());
    }

    [Fact]
    public void HugeLogitsStayFinite()
    {
        var logits = Tensor.FromArray([3e38f, -3e38f, 0f, 1e4f, -1e4f, 0f], 2, 3);
        logits.RequiresGrad = true;
        var tape = new Tape();
        var cx = new Compute(tape);
        var loss = cx.CrossEntropy(logits, [0, 1]);
        Assert.Equal(1e4f, loss.ToScalar(), 1f);
        tape.Backward(loss);
        Assert.All(logits.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.Equal([0f, 0f, 0f, 0.5f, -0.5f, 0f], logits.Grad!.ToArray());
    }

    [Fact]
    public void BadTargetsAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Compute.Eager.CrossEntropy(Tensor.Zeros(2, 5), [0, 5]));
        Assert.Contains("target 5", ex.Message);
        Assert.Contains("size 5", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Compute.Eager.CrossEntropy(Tensor.Zeros(2, 5), [0]));
        Assert.Contains("[2, 5]", ex.Message);
    }
}

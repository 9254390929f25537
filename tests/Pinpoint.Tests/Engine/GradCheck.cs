using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Engine;

/// <summary>
/// Compares an op's taped gradients with central finite differences. The probed loss is
/// sum(output * fixed random weights), accumulated in double precision so the float32 op is the only
/// source of rounding in the difference quotient.
/// </summary>
public static class GradCheck
{
    public static Tensor Random(Random rng, float scale, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return t;
    }

    /// <param name="op">Runs the op on the given context and inputs.</param>
    /// <param name="inputs">Inputs; those with RequiresGrad are checked.</param>
    public static void Check(Func<Compute, Tensor[], Tensor> op, Tensor[] inputs, double eps = 1e-3, double tolerance = 2e-2, int seed = 1234, int maxProbes = 64)
    {
        var rng = new Random(seed);
        var probe = Eager(op, inputs);
        var weights = new double[probe.Size];
        for (int i = 0; i < weights.Length; i++) weights[i] = rng.NextDouble() * 2 - 1;

        var tape = new Tape();
        var cx = new Compute(tape);
        foreach (var t in inputs) t.Grad = null;
        var output = op(cx, inputs);
        var seedGrad = Tensor.Zeros(output.Shape.ToArray());
        for (int i = 0; i < weights.Length; i++) seedGrad.Span[i] = (float)weights[i];
        tape.Backward(output, seedGrad);

        foreach (var (input, index) in inputs.Select((t, i) => (t, i)))
        {
            if (!input.RequiresGrad) continue;
            Assert.True(input.Grad is not null, $"input {index} {input.Describe()} received no gradient");
            var analytic = input.Grad!.Span.ToArray();
            var values = input.Span;
            int stride = Math.Max(1, values.Length / maxProbes);
            for (int e = 0; e < values.Length; e += stride)
            {
                float original = values[e];
                double h = eps * Math.Max(1.0, Math.Abs(original));
                values[e] = (float)(original + h);
                double up = Loss(Eager(op, inputs), weights);
                values[e] = (float)(original - h);
                double down = Loss(Eager(op, inputs), weights);
                values[e] = original;
                double numeric = (up - down) / (2 * h);
                double error = Math.Abs(numeric - analytic[e]);
                double bound = tolerance * Math.Max(1.0, Math.Max(Math.Abs(numeric), Math.Abs(analytic[e])));
                Assert.True(error <= bound,
                    $"input {index} {input.Describe()} element {e}: analytic {analytic[e]:G6} vs numeric {numeric:G6} (error {error:G3} > {bound:G3})");
            }
        }
    }

    private static Tensor Eager(Func<Compute, Tensor[], Tensor> op, Tensor[] inputs) => op(Compute.Eager, inputs).Contiguous();

    private static double Loss(Tensor output, double[] weights)
    {
        double sum = 0;
        var s = output.Span;
        for (int i = 0; i < s.Length; i++) sum += s[i] * weights[i];
        return sum;
    }
}

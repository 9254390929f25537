using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>
/// Interventions on the residual stream at one hook: adding a vector at the last token, or projecting a subspace
/// out at every token, and reading the next-token logits.
/// </summary>
public static class CausalTest
{
    /// <summary>Last-position logits [items][vocab] with <paramref name="add"/> added at the last token of <paramref name="hook"/> (none: null).</summary>
    public static float[][] LastLogits(HookedTransformer model, IReadOnlyList<int[]> sequences, string hook, double[]? add, int batchSize)
    {
        var result = new float[sequences.Count][];
        int vocab = model.Config.VocabSize;
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            var chunk = sequences.Skip(start).Take(batchSize).Select(s => (IReadOnlyList<int>)s).ToList();
            var batch = TokenBatch.LeftPadded(chunk, padId: 0);
            var functions = add is null ? [] : new[] { (hook, AddAtLastToken(add)) };
            var logits = model.RunWithHooks(batch, functions, Compute.Eager, lastPositionOnly: true).Contiguous().Span;
            for (int b = 0; b < chunk.Count; b++) result[start + b] = logits.Slice(b * vocab, vocab).ToArray();
        }
        return result;
    }

    /// <summary>A hook function adding <paramref name="vector"/> to the last position of every row ([B, T, D]).</summary>
    public static HookFunction AddAtLastToken(double[] vector) => (activation, _) =>
    {
        var copy = activation.Clone();
        int len = copy.Dim(1), d = copy.Dim(2);
        var s = copy.Span;
        for (int b = 0; b < copy.Dim(0); b++)
        {
            var row = s.Slice((b * len + len - 1) * d, d);
            for (int j = 0; j < d; j++) row[j] += (float)vector[j];
        }
        return copy;
    };

    /// <summary>A hook function removing the span of <paramref name="orthonormal"/> (rows of width D) from every position.</summary>
    public static HookFunction ProjectOut(IReadOnlyList<double[]> orthonormal) => (activation, _) =>
    {
        var copy = activation.Clone();
        int d = copy.Dim(-1);
        var s = copy.Span;
        var row = new double[d];
        for (int start = 0; start < s.Length; start += d)
        {
            var r = s.Slice(start, d);
            for (int j = 0; j < d; j++) row[j] = r[j];
            foreach (var u in orthonormal)
            {
                double dot = TensorPrimitives.Dot(row, u);
                TensorPrimitives.MultiplyAdd(u, -dot, row, row);
            }
            for (int j = 0; j < d; j++) r[j] = (float)row[j];
        }
        return copy;
    };

    /// <summary>Gram–Schmidt: an orthonormal basis of the span of <paramref name="vectors"/> (near-dependent ones dropped).</summary>
    public static List<double[]> Orthonormalize(IEnumerable<double[]> vectors)
    {
        var basis = new List<double[]>();
        foreach (var v in vectors)
        {
            var w = (double[])v.Clone();
            double original = TensorPrimitives.Norm(w);
            foreach (var u in basis) TensorPrimitives.MultiplyAdd(u, -TensorPrimitives.Dot(w, u), w, w);
            double n = TensorPrimitives.Norm(w);
            if (n <= 1e-6 * Math.Max(original, 1e-30)) continue;
            TensorPrimitives.Divide(w, n, w);
            basis.Add(w);
        }
        return basis;
    }

    /// <summary>A random direction (Gaussian, seeded) with the given norm.</summary>
    public static double[] RandomDirection(int width, double norm, Random rng)
    {
        var v = new double[width];
        for (int j = 0; j < width; j++) v[j] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        TensorPrimitives.Multiply(v, norm / TensorPrimitives.Norm(v), v);
        return v;
    }
}

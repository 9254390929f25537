using System.Numerics.Tensors;
using Pinpoint.Interpretability.Saes;

namespace Pinpoint.Tests.Saes;

/// <summary>
/// Activations built from a known dictionary: <c>Features</c> random unit directions in <c>DIn</c> dimensions, each
/// token the sum of a few of them (each present with probability active/features) with magnitudes in [0.5, 1.5].
/// Batch i depends only on (seed, i), as <see cref="IActivationBatches"/> requires.
/// </summary>
internal sealed class PlantedDictionary(int dIn, int features, double activePerToken, int seed) : IActivationBatches
{
    public int DIn => dIn;
    public float[] Directions { get; } = RandomUnitRows(new Random(seed), features, dIn);

    public void Fill(long index, int rows, Span<float> destination)
    {
        var rng = new Random(SeedMix.Of(seed, index));
        destination[..(rows * dIn)].Clear();
        double p = activePerToken / features;
        for (int r = 0; r < rows; r++)
        {
            var row = destination.Slice(r * dIn, dIn);
            for (int f = 0; f < features; f++)
                if (rng.NextDouble() < p)
                    TensorPrimitives.MultiplyAdd(Directions.AsSpan(f * dIn, dIn), (float)(0.5 + rng.NextDouble()), row, row);
        }
    }

    public static float[] RandomUnitRows(Random rng, int rows, int cols)
    {
        var m = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            var row = m.AsSpan(r * cols, cols);
            for (int c = 0; c < cols; c++) row[c] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            TensorPrimitives.Multiply(row, 1f / TensorPrimitives.Norm(row), row);
        }
        return m;
    }

    /// <summary>The fraction of true directions whose best-matching decoder row has cosine ≥ <paramref name="threshold"/>.</summary>
    public double Recovered(Sae sae, double threshold)
    {
        int features = Directions.Length / dIn, found = 0;
        var norms = Enumerable.Range(0, sae.DSae).Select(j => TensorPrimitives.Norm(sae.DecoderRow(j))).ToArray();
        for (int f = 0; f < features; f++)
        {
            var truth = Directions.AsSpan(f * dIn, dIn);
            double best = 0;
            for (int j = 0; j < sae.DSae; j++)
                if (norms[j] > 0) best = Math.Max(best, TensorPrimitives.Dot(truth, sae.DecoderRow(j)) / norms[j]);
            if (best >= threshold) found++;
        }
        return found / (double)features;
    }

    public void Dispose() { }
}

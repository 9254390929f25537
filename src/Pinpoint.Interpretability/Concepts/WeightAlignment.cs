using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>A weight vector (a row or column of a TransformerLens-named matrix) and its cosine with a direction.</summary>
public sealed record AlignedVector(string Matrix, int Index, string? Token, double Cosine);

/// <summary>The largest |cosine| over one kind of weight vector, against the same statistic for shuffled-label directions.</summary>
/// <param name="PValue">(1 + shuffles reaching the observed value) / (shuffles + 1).</param>
public sealed record AlignmentStatistic(string Kind, double MaxAbsCosine, double ShuffledMean, double ShuffledSd, double PValue);

/// <summary>
/// Which weight vectors point along a concept direction in the residual stream: embedding rows (tokens), MLP input
/// columns (what each neuron reads, times the second norm's weight as TransformerLens folds it) and MLP output rows
/// (what each neuron writes).
/// </summary>
public sealed class WeightAlignment
{
    private readonly List<(string Kind, string Matrix, int Index, double[] Vector)> _vectors = [];

    public WeightAlignment(HookedTransformer model)
    {
        var c = model.Config;
        foreach (var m in WeightMatrices.All(c, model.Weights))
        {
            bool embed = m.Name == "embed.W_E", input = m.Name.EndsWith(".mlp.W_in", StringComparison.Ordinal) || m.Name.EndsWith(".mlp.W_gate", StringComparison.Ordinal),
                output = m.Name.EndsWith(".mlp.W_out", StringComparison.Ordinal);
            if (!embed && !input && !output) continue;
            var values = m.ToArray();
            if (input)
            {
                var ln = model.Weights.Blocks[m.Layer].Ln2!.Weight.ToArray();
                for (int n = 0; n < m.Columns; n++)
                    _vectors.Add(("mlp_in", m.Name, n, Enumerable.Range(0, m.Rows).Select(i => (double)values[i * m.Columns + n] * ln[i]).ToArray()));
            }
            else
                for (int r = 0; r < m.Rows; r++)
                    _vectors.Add((embed ? "embed" : "mlp_out", m.Name, r, values.AsSpan(r * m.Columns, m.Columns).ToArray().Select(v => (double)v).ToArray()));
        }
        foreach (var v in _vectors) Normalize(v.Vector);
    }

    public static readonly string[] Kinds = ["embed", "mlp_in", "mlp_out"];

    /// <summary>The <paramref name="top"/> vectors of each kind with the largest |cosine| with <paramref name="direction"/>.</summary>
    public IReadOnlyList<AlignedVector> Top(ReadOnlySpan<double> direction, int top, Func<int, string> tokenText)
    {
        var d = Unit(direction);
        return _vectors.GroupBy(v => v.Kind).SelectMany(g => g
                .Select(v => (v, cos: TensorPrimitives.Dot(v.Vector, d)))
                .OrderByDescending(p => Math.Abs(p.cos)).Take(top)
                .Select(p => new AlignedVector(p.v.Matrix, p.v.Index, p.v.Kind == "embed" ? tokenText(p.v.Index) : null, p.cos)))
            .ToList();
    }

    /// <summary>Largest |cosine| per kind (in <see cref="Kinds"/> order).</summary>
    public double[] MaxAbsCosine(ReadOnlySpan<double> direction)
    {
        var d = Unit(direction);
        var max = new double[Kinds.Length];
        foreach (var v in _vectors)
        {
            int k = Array.IndexOf(Kinds, v.Kind);
            max[k] = Math.Max(max[k], Math.Abs(TensorPrimitives.Dot(v.Vector, d)));
        }
        return max;
    }

    private static double[] Unit(ReadOnlySpan<double> v)
    {
        var u = v.ToArray();
        Normalize(u);
        return u;
    }

    private static void Normalize(double[] v)
    {
        double n = TensorPrimitives.Norm(v);
        if (n > 0) TensorPrimitives.Divide(v, n, v);
    }
}

namespace Pinpoint.Interpretability.Concepts;

/// <summary>Items × features, row-major, in double precision (probe fits are small and need stable sums).</summary>
public sealed class FeatureMatrix
{
    public FeatureMatrix(int rows, int columns, double[]? data = null)
    {
        Rows = rows;
        Columns = columns;
        Data = data ?? new double[(long)rows * columns];
        if (Data.Length != (long)rows * columns) throw new ArgumentException($"{Data.Length} values do not fill {rows}×{columns}");
    }

    public int Rows { get; }
    public int Columns { get; }
    public double[] Data { get; }

    public Span<double> Row(int r) => Data.AsSpan(r * Columns, Columns);

    /// <summary>The rows listed in <paramref name="rows"/>, in that order.</summary>
    public FeatureMatrix Select(IReadOnlyList<int> rows)
    {
        var m = new FeatureMatrix(rows.Count, Columns);
        for (int i = 0; i < rows.Count; i++) Row(rows[i]).CopyTo(m.Row(i));
        return m;
    }

    /// <summary>The columns listed in <paramref name="columns"/>, in that order.</summary>
    public FeatureMatrix SelectColumns(IReadOnlyList<int> columns)
    {
        var m = new FeatureMatrix(Rows, columns.Count);
        for (int r = 0; r < Rows; r++)
        {
            var src = Row(r);
            var dst = m.Row(r);
            for (int j = 0; j < columns.Count; j++) dst[j] = src[columns[j]];
        }
        return m;
    }

    public static FeatureMatrix FromFloats(float[] values, int rows, int columns)
    {
        var m = new FeatureMatrix(rows, columns);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = values[i];
        return m;
    }
}

/// <summary>Per-feature mean and standard deviation of a training set, applied to any rows.</summary>
public sealed class Standardizer
{
    private const double MinScale = 1e-8;

    public Standardizer(FeatureMatrix train)
    {
        int d = train.Columns;
        Mean = new double[d];
        Scale = new double[d];
        for (int r = 0; r < train.Rows; r++)
        {
            var row = train.Row(r);
            for (int j = 0; j < d; j++) Mean[j] += row[j];
        }
        for (int j = 0; j < d; j++) Mean[j] /= Math.Max(1, train.Rows);
        for (int r = 0; r < train.Rows; r++)
        {
            var row = train.Row(r);
            for (int j = 0; j < d; j++) Scale[j] += (row[j] - Mean[j]) * (row[j] - Mean[j]);
        }
        // A constant feature keeps scale 1: it becomes 0 and carries no weight.
        for (int j = 0; j < d; j++)
        {
            double sd = Math.Sqrt(Scale[j] / Math.Max(1, train.Rows));
            Scale[j] = sd < MinScale ? 1 : sd;
        }
    }

    public double[] Mean { get; }
    public double[] Scale { get; }

    public FeatureMatrix Apply(FeatureMatrix x)
    {
        var m = new FeatureMatrix(x.Rows, x.Columns);
        for (int r = 0; r < x.Rows; r++)
        {
            var src = x.Row(r);
            var dst = m.Row(r);
            for (int j = 0; j < x.Columns; j++) dst[j] = (src[j] - Mean[j]) / Scale[j];
        }
        return m;
    }
}

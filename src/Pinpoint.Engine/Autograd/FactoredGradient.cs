using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Autograd;

/// <summary>
/// The gradient of a weight kept as the factors its uses produce instead of a dense tensor: a product y = a·op(W)
/// contributes dW = aᵀ·dy (or dyᵀ·a when W is used transposed), an embedding lookup adds dy's rows to the looked-up
/// rows. Over a prompt of T tokens that is rank ≤ T, so any block of the gradient is computed on demand
/// (<see cref="Block"/>) while the weight itself may stay quantized or memory-mapped — a dense f32 gradient of every
/// matrix of a 1B model would take 5 GB. Register a weight with <see cref="Tape.FactorGradientOf"/>.
/// </summary>
public sealed class FactoredGradient
{
    private readonly List<(float[] A, float[] Dy, int M, int K, int N, bool Transposed)> _products = [];
    private readonly List<(int[] Rows, float[] Dy, int Width)> _lookups = [];

    /// <summary>Rows of the weight as stored.</summary>
    public int Rows { get; }

    /// <summary>Columns of the weight as stored.</summary>
    public int Columns { get; }

    internal FactoredGradient(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
    }

    /// <summary>A use as the right operand of y [m, n] = a [m, k]·op(W); <paramref name="a"/> and <paramref name="dy"/> are copied.</summary>
    internal void AddProduct(ReadOnlySpan<float> a, ReadOnlySpan<float> dy, int m, int k, int n, bool transposed) =>
        _products.Add((a[..(m * k)].ToArray(), dy[..(m * n)].ToArray(), m, k, n, transposed));

    /// <summary>A lookup of <paramref name="rows"/>, whose output rows received <paramref name="dy"/>.</summary>
    internal void AddLookup(int[] rows, ReadOnlySpan<float> dy) => _lookups.Add(((int[])rows.Clone(), dy[..(rows.Length * Columns)].ToArray(), Columns));

    /// <summary>
    /// The gradient of stored rows [<paramref name="row0"/>, +<paramref name="rowCount"/>) and columns
    /// [<paramref name="column0"/>, +<paramref name="columnCount"/>), row-major, into <paramref name="destination"/>.
    /// </summary>
    public void Block(int row0, int rowCount, int column0, int columnCount, Span<float> destination)
    {
        if (row0 < 0 || column0 < 0 || rowCount < 0 || columnCount < 0 || row0 + rowCount > Rows || column0 + columnCount > Columns)
            throw new ArgumentOutOfRangeException(nameof(row0), $"block [{row0}, +{rowCount}) × [{column0}, +{columnCount}) is outside the {Rows}×{Columns} weight");
        var block = destination[..(rowCount * columnCount)];
        block.Clear();
        foreach (var (a, dy, m, k, n, transposed) in _products)
        {
            // Stored W is [n, k] when used transposed (dW = dyᵀ·a), else [k, n] (dW = aᵀ·dy): a transposed-A product either way.
            var (left, ldl, right, ldr) = transposed ? (dy, n, a, k) : (a, k, dy, n);
            Gemm.Multiply(rowCount, columnCount, m, left.AsSpan(row0), ldl, true, right.AsSpan(column0), ldr, false, block, columnCount, 1f);
        }
        foreach (var (rows, dy, width) in _lookups)
            for (int r = 0; r < rows.Length; r++)
                if (rows[r] >= row0 && rows[r] < row0 + rowCount)
                    Elementwise.AddScaled(block.Slice((rows[r] - row0) * columnCount, columnCount), dy.AsSpan(r * width + column0, columnCount), 1f, block.Slice((rows[r] - row0) * columnCount, columnCount));
    }

    /// <summary>Whether any use has contributed (a weight the output does not depend on has a zero gradient).</summary>
    public bool IsEmpty => _products.Count == 0 && _lookups.Count == 0;
}

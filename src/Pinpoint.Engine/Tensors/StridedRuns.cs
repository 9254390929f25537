namespace Pinpoint.Engine.Tensors;

/// <summary>
/// Walks a strided tensor's elements in logical (row-major) order one innermost-axis run at a time: each
/// <see cref="MoveNext"/> yields the storage offset of a run's first element; the run has <see cref="Length"/>
/// elements, <see cref="Stride"/> apart. An odometer over the outer axes finds each run's start.
/// </summary>
internal ref struct StridedRuns
{
    private readonly ReadOnlySpan<int> _shape;
    private readonly ReadOnlySpan<int> _strides;
    private readonly int[] _index;
    private readonly int _offset;
    private int _remaining;

    public StridedRuns(Tensor t)
    {
        if (t.Rank == 0) throw new ArgumentException("a rank-0 tensor has no innermost axis", nameof(t));
        _shape = t.Shape;
        _strides = t.Strides;
        _offset = t.Offset;
        _index = new int[t.Rank - 1];
        Length = _shape[^1];
        Stride = _strides[^1];
        _remaining = Length == 0 ? 0 : t.Size / Length;
    }

    /// <summary>Elements in each run (the innermost dimension).</summary>
    public int Length { get; }

    /// <summary>Storage distance between consecutive elements of a run.</summary>
    public int Stride { get; }

    /// <summary>Advances to the next run; <paramref name="start"/> is its first element's storage offset.</summary>
    public bool MoveNext(out int start)
    {
        if (_remaining == 0)
        {
            start = 0;
            return false;
        }
        start = _offset;
        for (int i = 0; i < _index.Length; i++) start += _index[i] * _strides[i];
        _remaining--;
        for (int i = _index.Length - 1; i >= 0; i--)
        {
            if (++_index[i] < _shape[i]) break;
            _index[i] = 0;
        }
        return true;
    }
}

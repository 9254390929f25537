namespace Pinpoint.Engine.Tensors;

/// <summary>
/// One axis of a tensor index, written as in NumPy: an integer or <c>^n</c> picks one position and drops the axis, a
/// range (<c>..</c>, <c>2..5</c>, <c>^3..</c>) keeps the axis. <c>t[.., ^1, 3]</c> is every batch row's last
/// position, head 3.
/// </summary>
public readonly struct TensorIndex
{
    private readonly Index _index;
    private readonly Range _range;

    public bool IsRange { get; }

    private TensorIndex(Index index)
    {
        _index = index;
        IsRange = false;
    }

    private TensorIndex(Range range)
    {
        _range = range;
        IsRange = true;
    }

    public static implicit operator TensorIndex(int index) => new(index >= 0 ? new Index(index) : throw new ArgumentOutOfRangeException(nameof(index), $"index {index} is negative; write ^{-index} to count from the end"));
    public static implicit operator TensorIndex(Index index) => new(index);
    public static implicit operator TensorIndex(Range range) => new(range);

    /// <summary>The position this index picks on an axis of <paramref name="length"/>, or throws naming the axis.</summary>
    internal int Position(int length, int axis, string tensor)
    {
        int p = _index.GetOffset(length);
        if ((uint)p >= (uint)length) throw new IndexOutOfRangeException($"index {_index} is outside axis {axis} (length {length}) of {tensor}");
        return p;
    }

    /// <summary>The (start, length) this range covers on an axis of <paramref name="length"/>, or throws naming the axis.</summary>
    internal (int Start, int Length) Span(int length, int axis, string tensor)
    {
        try
        {
            return _range.GetOffsetAndLength(length);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new IndexOutOfRangeException($"range {_range} is outside axis {axis} (length {length}) of {tensor}");
        }
    }

    /// <summary>As written in C#: <c>3</c>, <c>^1</c>, <c>..</c>, <c>2..^1</c>.</summary>
    public override string ToString() => IsRange
        ? (_range.Start.Equals(Index.Start) ? "" : _range.Start.ToString()) + ".." + (_range.End.Equals(Index.End) ? "" : _range.End.ToString())
        : _index.ToString();
}

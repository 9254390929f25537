namespace Pinpoint.Models.Transformer;

/// <summary>
/// Token ids for a forward pass, [batch, length] row-major, with an optional padding mask and the position of every
/// token (positions skip padding, so a left-padded row sees the same positions as the unpadded sequence).
/// </summary>
public sealed class TokenBatch
{
    public int BatchSize { get; }
    public int Length { get; }
    public int[] Ids { get; }
    /// <summary>True for real tokens; null when nothing is padded.</summary>
    public bool[]? Mask { get; }
    public int[] Positions { get; }

    public TokenBatch(int batchSize, int length, int[] ids, bool[]? mask = null, int positionOffset = 0)
    {
        if (batchSize <= 0 || length <= 0) throw new ArgumentException($"a token batch needs at least one token (got {batchSize}×{length})");
        if (ids.Length != batchSize * length) throw new ArgumentException($"{ids.Length} ids do not fill a {batchSize}×{length} batch");
        if (mask is not null && mask.Length != ids.Length) throw new ArgumentException($"padding mask of {mask.Length} entries does not match {ids.Length} ids");
        BatchSize = batchSize;
        Length = length;
        Ids = ids;
        Mask = mask;
        Positions = new int[ids.Length];
        for (int b = 0; b < batchSize; b++)
        {
            int p = positionOffset;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                Positions[i] = p;
                if (mask is null || mask[i]) p++;
            }
        }
    }

    /// <summary>Positions [<paramref name="start"/>, start + <paramref name="length"/>) of every sequence (of an unpadded batch).</summary>
    public TokenBatch Range(int start, int length)
    {
        if (Mask is not null) throw new InvalidOperationException("a padded batch cannot be cut by position");
        if (start < 0 || length <= 0 || start + length > Length) throw new ArgumentOutOfRangeException(nameof(start), $"positions {start}..{start + length} lie outside a batch of length {Length}");
        var ids = new int[BatchSize * length];
        for (int b = 0; b < BatchSize; b++) Ids.AsSpan(b * Length + start, length).CopyTo(ids.AsSpan(b * length));
        return new TokenBatch(BatchSize, length, ids);
    }

    public static TokenBatch Single(IReadOnlyList<int> ids, int positionOffset = 0) => new(1, ids.Count, ids.ToArray(), null, positionOffset);

    /// <summary>One sequence as a batch of one row (what every single-prompt analysis runs).</summary>
    public static implicit operator TokenBatch(int[] ids) => Single(ids);

    /// <summary>Sequences of different lengths, left-padded with <paramref name="padId"/> so every row ends at the last position.</summary>
    public static TokenBatch LeftPadded(IReadOnlyList<IReadOnlyList<int>> sequences, int padId)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to batch");
        int length = sequences.Max(s => s.Count);
        var ids = new int[sequences.Count * length];
        var mask = new bool[ids.Length];
        bool padded = false;
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            int pad = length - s.Count;
            padded |= pad > 0;
            for (int t = 0; t < length; t++)
            {
                ids[b * length + t] = t < pad ? padId : s[t - pad];
                mask[b * length + t] = t >= pad;
            }
        }
        return new TokenBatch(sequences.Count, length, ids, padded ? mask : null);
    }
}

namespace Pinpoint.Interpretability.Activations;

/// <summary>Which token positions of each sequence are harvested.</summary>
public enum HarvestPositions
{
    /// <summary>The last token of each sequence (what a next-token prediction reads).</summary>
    Last,
    /// <summary>Every token.</summary>
    Every,
    /// <summary>The position in <see cref="HarvestSequence.Marked"/>.</summary>
    Marked,
}

/// <summary>
/// Activations of one batch: <see cref="Rows"/> harvested tokens, each with its activation at every requested hook
/// (flattened over the dimensions after [batch, position], e.g. hook_z's heads × d_head), and where it came from.
/// A batch owns its arrays: a consumer may keep it.
/// </summary>
public sealed class ActivationBatch
{
    private readonly float[][] _values;

    internal ActivationBatch(IReadOnlyList<string> hooks, int[] widths, int rows)
    {
        Hooks = hooks;
        Widths = widths;
        Rows = rows;
        _values = widths.Select(w => new float[(long)rows * w]).ToArray();
        Sources = new long[rows];
        Positions = new int[rows];
        Tokens = new int[rows];
    }

    /// <summary>Hook names, in the order of <see cref="Values(int)"/>.</summary>
    public IReadOnlyList<string> Hooks { get; }

    /// <summary>Width of each hook's row.</summary>
    public int[] Widths { get; }

    public int Rows { get; }

    /// <summary>The <see cref="HarvestSequence.Source"/> of each row.</summary>
    public long[] Sources { get; }

    /// <summary>Token position of each row within its sequence (0 = first token, padding not counted).</summary>
    public int[] Positions { get; }

    /// <summary>Token id at each row's position.</summary>
    public int[] Tokens { get; }

    /// <summary>All rows of one hook, [Rows, Widths[hook]] row-major.</summary>
    public float[] Values(int hook) => _values[hook];

    /// <summary>All rows of the hook named <paramref name="hookName"/>.</summary>
    public float[] Values(string hookName)
    {
        for (int i = 0; i < Hooks.Count; i++)
            if (Hooks[i] == hookName) return _values[i];
        throw new KeyNotFoundException($"hook '{hookName}' was not harvested (harvested: {string.Join(", ", Hooks)})");
    }

    /// <summary>One row of one hook.</summary>
    public ReadOnlySpan<float> Row(int hook, int row) => _values[hook].AsSpan(row * Widths[hook], Widths[hook]);
}

/// <summary>Progress after each batch: sequences and tokens run, rows delivered.</summary>
public readonly record struct HarvestProgress(long Sequences, long Tokens, long Rows);

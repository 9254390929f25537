namespace Pinpoint.Interpretability.Saes;

/// <summary>
/// The latents a training step touches, row by row: for each entry its token row, latent, activation f,
/// pre-activation, and the gradients of the loss with respect to f and to the pre-activation.
/// </summary>
internal sealed class SparseEntries
{
    public int[] Row = [], Col = [];
    public float[] F = [], Pre = [], Df = [], Dpre = [];

    /// <summary>Grows the arrays (by half again, so steps with slightly more entries do not reallocate).</summary>
    public void EnsureCapacity(int count)
    {
        if (Row.Length >= count) return;
        int capacity = Math.Max(count, Row.Length * 3 / 2);
        Row = new int[capacity];
        Col = new int[capacity];
        F = new float[capacity];
        Pre = new float[capacity];
        Df = new float[capacity];
        Dpre = new float[capacity];
    }

    public void Set(int e, int row, int col, float f, float pre)
    {
        Row[e] = row;
        Col[e] = col;
        F[e] = f;
        Pre[e] = pre;
        Df[e] = 0;
        Dpre[e] = 0;
    }
}

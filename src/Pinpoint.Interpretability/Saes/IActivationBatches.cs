namespace Pinpoint.Interpretability.Saes;

/// <summary>
/// Training activations for an SAE. Batch i is a pure function of i (and the source's seed), so a run resumed
/// from a checkpoint sees exactly the batches an uninterrupted run would have seen.
/// </summary>
public interface IActivationBatches : IDisposable
{
    int DIn { get; }

    /// <summary>Writes batch <paramref name="index"/> (0-based) of <paramref name="rows"/> activations, row-major, into <paramref name="destination"/>.</summary>
    void Fill(long index, int rows, Span<float> destination);
}

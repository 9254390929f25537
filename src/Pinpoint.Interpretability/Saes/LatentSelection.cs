namespace Pinpoint.Interpretability.Saes;

/// <summary>Top-k selection over latent pre-activations, for TopK (per token) and BatchTopK (over a whole batch).</summary>
public static class LatentSelection
{
    /// <summary>
    /// The k-th largest value of <paramref name="values"/> (k ≥ 1), found with a size-k min-heap kept in
    /// <paramref name="heap"/>: one comparison for most elements, so O(n) when k ≪ n.
    /// </summary>
    public static float KthLargest(ReadOnlySpan<float> values, int k, Span<float> heap)
    {
        if (k < 1 || k > values.Length) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} with {values.Length} values");
        heap = heap[..k];
        values[..k].CopyTo(heap);
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int i = k; i < values.Length; i++)
        {
            if (values[i] <= heap[0]) continue;
            heap[0] = values[i];
            SiftDown(heap, 0);
        }
        return heap[0];
    }

    /// <summary>
    /// Keeps the <paramref name="k"/> largest values of <paramref name="row"/> that are positive and zeroes the
    /// rest (TopK then ReLU); ties at the k-th value are kept in index order so exactly k survive at most.
    /// </summary>
    public static void KeepTopK(Span<float> row, int k, Span<float> heap)
    {
        if (k >= row.Length)
        {
            TensorPrimitives.Max(row, 0f, row);
            return;
        }
        float kth = KthLargest(row, k, heap);
        int above = 0;
        foreach (var v in row) if (v > kth) above++;
        int ties = k - above;
        for (int i = 0; i < row.Length; i++)
        {
            float v = row[i];
            bool keep = v > kth || (v == kth && ties-- > 0);
            row[i] = keep && v > 0 ? v : 0f;
        }
    }

    private static void SiftDown(Span<float> heap, int i)
    {
        int n = heap.Length;
        float v = heap[i];
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= n) break;
            if (child + 1 < n && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= v) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = v;
    }
}

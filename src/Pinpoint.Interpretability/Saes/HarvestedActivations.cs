using Pinpoint.Interpretability.Activations;

namespace Pinpoint.Interpretability.Saes;

/// <summary>
/// SAE training batches harvested from a model, for one or more hooks at once, through a shuffled buffer of
/// bounded size: buffer fill f runs <c>bufferTokens / windowLength</c> corpus windows drawn at random (seed, f)
/// from the whole corpus, and shuffles their rows; batch i is slice i mod P of fill i / (P·reuse). Every batch is therefore
/// a pure function of (seed, i) — a resumed run sees the same data — and memory holds one fill, never the data set.
/// </summary>
public sealed class HarvestedActivations
{
    private readonly ActivationHarvester _harvester;
    private readonly IReadOnlyList<HarvestSequence> _windows;
    private readonly int _batchSize, _windowsPerFill, _batchesPerFill, _reuse, _seed;
    private readonly float[][] _buffers;
    private int[] _order = [];
    private long _loadedFill = -1;

    /// <summary>Tokens harvested so far (for throughput reports).</summary>
    public long HarvestedTokens { get; private set; }

    public HarvestedActivations(ActivationHarvester harvester, IReadOnlyList<HarvestSequence> windows, int bufferTokens, int batchSize, int seed, int reuse = 1)
    {
        if (windows.Count == 0) throw new ArgumentException("the corpus gave no windows to harvest");
        int windowLength = windows.Max(w => w.Ids.Length);
        _windows = windows.Where(w => w.Ids.Length == windowLength).ToList();
        _harvester = harvester;
        _batchSize = batchSize;
        _seed = seed;
        _reuse = reuse;
        _windowsPerFill = Math.Max(1, (bufferTokens + windowLength - 1) / windowLength);
        _batchesPerFill = Math.Max(1, _windowsPerFill * windowLength / batchSize);
        _buffers = new float[harvester.Hooks.Count][];
    }

    /// <summary>The batches of hook <paramref name="hook"/> (index into the harvester's hooks) of width <paramref name="dIn"/>.</summary>
    public IActivationBatches ForHook(int hook, int dIn) => new HookView(this, hook, dIn);

    private void Load(long fill)
    {
        if (fill == _loadedFill) return;
        var rng = new Random(SeedMix.Of(_seed, fill));
        var chosen = Enumerable.Range(0, _windowsPerFill).Select(_ => _windows[rng.Next(_windows.Count)]).ToList();
        int row = 0;
        _harvester.Run(chosen, batch =>
        {
            for (int h = 0; h < _buffers.Length; h++)
            {
                int w = batch.Widths[h];
                _buffers[h] ??= new float[(long)_windowsPerFill * chosen[0].Ids.Length * w];
                batch.Values(h).AsSpan(0, batch.Rows * w).CopyTo(_buffers[h].AsSpan(row * w));
            }
            row += batch.Rows;
        });
        HarvestedTokens += row;
        if (_order.Length != row) _order = new int[row];
        for (int i = 0; i < row; i++) _order[i] = i;
        rng.Shuffle(_order);
        _loadedFill = fill;
    }

    private sealed class HookView(HarvestedActivations owner, int hook, int dIn) : IActivationBatches
    {
        public int DIn => dIn;

        public void Fill(long index, int rows, Span<float> destination)
        {
            if (rows != owner._batchSize) throw new ArgumentException($"batches are {owner._batchSize} rows, asked for {rows}");
            owner.Load(index / ((long)owner._batchesPerFill * owner._reuse));
            int first = (int)(index % owner._batchesPerFill) * rows;
            var buffer = owner._buffers[hook];
            for (int r = 0; r < rows; r++)
                buffer.AsSpan(owner._order[first + r] * dIn, dIn).CopyTo(destination.Slice(r * dIn, dIn));
        }

        public void Dispose() { }
    }
}

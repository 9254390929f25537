using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Activations;

/// <summary>
/// Streams token sequences through a model in batches and delivers the activations at chosen hooks and positions,
/// one <see cref="ActivationBatch"/> per forward pass. Memory is bounded by one batch (plus, for
/// <see cref="RunAsync"/>, one batch waiting for the consumer) whatever the number of sequences; the sequences are
/// enumerated lazily. Only the requested hooks are kept during the forward, and the unembedding runs for the last
/// position only (its logits are not used).
/// </summary>
public sealed class ActivationHarvester
{
    public const int DefaultBatchSize = 8;

    private readonly HookedTransformer _model;
    private readonly HashSet<string> _hookSet;
    private readonly IReadOnlyList<(string HookName, HookFunction Function)> _interventions;

    /// <param name="hooks">Per-token hook names (see <see cref="HookSelection.Resolve"/>).</param>
    /// <param name="batchSize">Sequences per forward pass; shorter ones are left-padded.</param>
    /// <param name="interventions">Hook functions run in every forward pass (e.g. an ablation), so the harvested activations are those of the edited model.</param>
    public ActivationHarvester(HookedTransformer model, IReadOnlyList<string> hooks, HarvestPositions positions, int batchSize = DefaultBatchSize,
        IReadOnlyList<(string HookName, HookFunction Function)>? interventions = null)
    {
        _interventions = interventions ?? [];
        if (hooks.Count == 0) throw new ArgumentException("no hooks to harvest");
        if (batchSize < 1) throw new ArgumentException($"batch size {batchSize}: it must be at least 1");
        var valid = model.HookNamesInOrder().Where(HookSelection.IsPerToken).ToHashSet(StringComparer.Ordinal);
        foreach (var h in hooks)
            if (!valid.Contains(h)) throw new ArgumentException($"'{h}' is not a per-token hook of this model (valid: {string.Join(", ", valid)})");
        _model = model;
        Hooks = [.. hooks];
        _hookSet = new HashSet<string>(hooks, StringComparer.Ordinal);
        Positions = positions;
        BatchSize = batchSize;
    }

    public IReadOnlyList<string> Hooks { get; }
    public HarvestPositions Positions { get; }
    public int BatchSize { get; }

    /// <summary>
    /// Runs every sequence and hands each batch to <paramref name="consumer"/> on the calling thread; reports
    /// progress after each batch and checks <paramref name="cancellation"/> before each. Returns the totals.
    /// </summary>
    public HarvestProgress Run(IEnumerable<HarvestSequence> sequences, Action<ActivationBatch> consumer,
        IProgress<HarvestProgress>? progress = null, CancellationToken cancellation = default)
    {
        long done = 0, tokens = 0, rows = 0;
        var pending = new List<HarvestSequence>(BatchSize);
        void Flush()
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = Harvest(pending);
            done += pending.Count;
            tokens += pending.Sum(s => (long)s.Ids.Length);
            rows += batch.Rows;
            pending.Clear();
            consumer(batch);
            progress?.Report(new HarvestProgress(done, tokens, rows));
        }
        foreach (var sequence in sequences)
        {
            pending.Add(sequence);
            if (pending.Count == BatchSize) Flush();
        }
        if (pending.Count > 0) Flush();
        return new HarvestProgress(done, tokens, rows);
    }

    /// <summary>
    /// The same batches as an async stream: the forward passes run on a worker thread one batch ahead of the
    /// consumer (so consuming overlaps computing), and stop when the consumer stops or cancels.
    /// </summary>
    public async IAsyncEnumerable<ActivationBatch> RunAsync(IEnumerable<HarvestSequence> sequences,
        IProgress<HarvestProgress>? progress = null, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var channel = Channel.CreateBounded<ActivationBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(() =>
        {
            try
            {
                Run(sequences, b => channel.Writer.WriteAsync(b, stop.Token).AsTask().GetAwaiter().GetResult(), progress, stop.Token);
                channel.Writer.Complete();
            }
            catch (Exception e)
            {
                channel.Writer.Complete(e);
            }
        }, CancellationToken.None);
        try
        {
            await foreach (var batch in channel.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
                yield return batch;
        }
        finally
        {
            stop.Cancel();
            await producer.ConfigureAwait(false);
        }
    }

    /// <summary>One forward pass over up to <see cref="BatchSize"/> sequences.</summary>
    public ActivationBatch Harvest(IReadOnlyList<HarvestSequence> sequences)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to harvest");
        foreach (var s in sequences)
            if (Positions == HarvestPositions.Marked && (uint)s.Marked >= (uint)s.Ids.Length)
                throw new ArgumentException($"sequence {s.Source} has no marked token inside its {s.Ids.Length} tokens");
        var tokenBatch = TokenBatch.LeftPadded(sequences.Select(s => (IReadOnlyList<int>)s.Ids).ToList(), padId: 0);
        var hookSet = new HookSet(_hookSet.Contains);
        foreach (var (name, function) in _interventions) hookSet.Add(name, function);
        _model.Forward(Compute.Eager, tokenBatch, hookSet, lastPositionOnly: true);
        var cache = hookSet.Cache;
        int length = tokenBatch.Length;

        int rows = Positions == HarvestPositions.Every ? sequences.Sum(s => s.Ids.Length) : sequences.Count;
        var tensors = Hooks.Select(h => cache[h].Contiguous()).ToArray();
        var widths = tensors.Select(t => t.Size / (tokenBatch.BatchSize * length)).ToArray();
        var batch = new ActivationBatch(Hooks, widths, rows);
        int row = 0;
        for (int b = 0; b < sequences.Count; b++)
        {
            var s = sequences[b];
            int pad = length - s.Ids.Length;
            var (first, count) = Positions switch
            {
                HarvestPositions.Every => (0, s.Ids.Length),
                HarvestPositions.Last => (s.Ids.Length - 1, 1),
                _ => (s.Marked, 1),
            };
            for (int h = 0; h < tensors.Length; h++)
            {
                int w = widths[h];
                tensors[h].Span.Slice((b * length + pad + first) * w, count * w).CopyTo(batch.Values(h).AsSpan(row * w, count * w));
            }
            for (int t = 0; t < count; t++)
            {
                batch.Sources[row + t] = s.Source;
                batch.Positions[row + t] = first + t;
                batch.Tokens[row + t] = s.Ids[first + t];
            }
            row += count;
        }
        return batch;
    }
}

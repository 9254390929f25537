using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Activations;

/// <summary>
/// Streams token sequences through a model in batches and delivers the activations at chosen hooks and positions,
/// one <see cref="ActivationBatch"/> per forward pass. Memory is bounded by one batch (plus, for
/// <see cref="RunAsync"/>, one batch waiting for the consumer) whatever the number of sequences; the sequences are
/// enumerated lazily. Only the requested hooks are kept during the forward, and the unembedding runs for the last
/// position only (its logits are not used). The forward passes of <see cref="Run"/> and <see cref="RunAsync"/> take
/// their intermediate tensors from one arena reused batch after batch, so a long harvest does not churn the
/// large-object heap (whose garbage, not live data, is what made the process grow with the corpus).
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
        IProgress<HarvestProgress>? progress = null, CancellationToken cancellation = default) =>
        RunBatches(sequences, consumer, progress, reusable: null, cancellation);

    /// <param name="reusable">Batches the consumer is done with: one whose shape fits is filled again instead of allocating a new one.</param>
    private HarvestProgress RunBatches(IEnumerable<HarvestSequence> sequences, Action<ActivationBatch> consumer,
        IProgress<HarvestProgress>? progress, ConcurrentQueue<ActivationBatch>? reusable, CancellationToken cancellation)
    {
        long done = 0, tokens = 0, rows = 0;
        var arena = new TensorArena();
        var compute = new Compute(arena: arena);
        var pending = new List<HarvestSequence>(BatchSize);
        void Flush()
        {
            cancellation.ThrowIfCancellationRequested();
            arena.Reset();
            var batch = Harvest(pending, compute, reusable);
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
    /// <param name="reuseBatches">
    /// When true, a batch's arrays are filled again once the consumer asks for the batch after it, so the consumer
    /// must not keep a batch beyond its loop iteration; in exchange at most three batches (the one consumed, the one
    /// waiting, the one being filled) are ever allocated, however many are delivered.
    /// </param>
    public async IAsyncEnumerable<ActivationBatch> RunAsync(IEnumerable<HarvestSequence> sequences,
        IProgress<HarvestProgress>? progress = null, [EnumeratorCancellation] CancellationToken cancellation = default, bool reuseBatches = false)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var reusable = reuseBatches ? new ConcurrentQueue<ActivationBatch>() : null;
        var channel = Channel.CreateBounded<ActivationBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(() =>
        {
            try
            {
                RunBatches(sequences, b => channel.Writer.WriteAsync(b, stop.Token).AsTask().GetAwaiter().GetResult(), progress, reusable, stop.Token);
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
            {
                yield return batch;
                // The consumer asked for the next batch, so it is done with this one.
                reusable?.Enqueue(batch);
            }
        }
        finally
        {
            stop.Cancel();
            await producer.ConfigureAwait(false);
        }
    }

    /// <summary>One forward pass over up to <see cref="BatchSize"/> sequences.</summary>
    public ActivationBatch Harvest(IReadOnlyList<HarvestSequence> sequences) => Harvest(sequences, Compute.Eager, reusable: null);

    private ActivationBatch Harvest(IReadOnlyList<HarvestSequence> sequences, Compute compute, ConcurrentQueue<ActivationBatch>? reusable)
    {
        if (sequences.Count == 0) throw new ArgumentException("no sequences to harvest");
        foreach (var s in sequences)
            if (Positions == HarvestPositions.Marked && (uint)s.Marked >= (uint)s.Ids.Length)
                throw new ArgumentException($"sequence {s.Source} has no marked token inside its {s.Ids.Length} tokens");
        var tokenBatch = TokenBatch.LeftPadded(sequences.Select(s => (IReadOnlyList<int>)s.Ids).ToList(), padId: 0);
        var hookSet = new HookSet(_hookSet.Contains);
        foreach (var (name, function) in _interventions) hookSet.Add(name, function);
        _model.Forward(compute, tokenBatch, hookSet, lastPositionOnly: true);
        var cache = hookSet.Cache;
        int length = tokenBatch.Length;

        int rows = Positions == HarvestPositions.Every ? sequences.Sum(s => s.Ids.Length) : sequences.Count;
        var tensors = Hooks.Select(h => cache[h].Contiguous()).ToArray();
        var widths = tensors.Select(t => t.Size / (tokenBatch.BatchSize * length)).ToArray();
        var batch = Reused(reusable, widths, rows) ?? new ActivationBatch(Hooks, widths, rows);
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

    /// <summary>A batch the consumer is done with, when one of exactly this shape is waiting (the last, shorter batch gets its own).</summary>
    private static ActivationBatch? Reused(ConcurrentQueue<ActivationBatch>? reusable, int[] widths, int rows)
    {
        while (reusable is not null && reusable.TryDequeue(out var batch))
            if (batch.Rows == rows && batch.Widths.AsSpan().SequenceEqual(widths)) return batch;
        return null;
    }
}

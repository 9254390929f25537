using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>
/// A receiving port's input in one run: slot <see cref="Slot"/> of <see cref="Stacked"/>, which holds the inputs of every
/// port of its kind in its layer one after another ([ports, T, d_model]; a single port's is [1, T, d_model]).
/// </summary>
public readonly record struct PortInput(Tensor Stacked, int Slot)
{
    private int Size => Stacked.Span.Length / Stacked.Dim(0);

    public ReadOnlySpan<float> Values => Stacked.Span.Slice(Slot * Size, Size);

    /// <summary>∂metric/∂input after a taped backward, [T, d_model] row-major.</summary>
    public ReadOnlySpan<float> Gradient => Stacked.Grad!.Span.Slice(Slot * Size, Size);
}

/// <summary>One row of a batched edge run: the edges it keeps, and what a cut edge's sender carries instead ([sequences, T, d_model] per sender).</summary>
public sealed record CutSet(Func<Edge, bool> Keep, IReadOnlyDictionary<Node, float[]> Ablated);

/// <summary>What one run through <see cref="EdgeForward"/> gives back.</summary>
/// <param name="Inputs">Each receiving port's own input (the residual stream as that port saw it), with gradients after a taped backward.</param>
/// <param name="Outputs">Each sender's write to the residual stream, [rows, sequences, T, d_model] row-major.</param>
/// <param name="Stacks">Each stack of port inputs with its first port; the ports of a stack follow one another in <see cref="EdgeGraph.Ports"/>.</param>
public sealed record EdgeRunResult(Tensor Logits, IReadOnlyDictionary<Port, PortInput> Inputs, IReadOnlyDictionary<Node, float[]> Outputs,
    IReadOnlyList<(Port First, Tensor Stacked)> Stacks);

/// <summary>What <see cref="EdgeForward.Gradients"/> gives back.</summary>
/// <param name="Outputs">Each sender's write to the residual stream, [sequences, T, d_model] row-major.</param>
/// <param name="Stacks">Each stack of ports (a block's queries, keys or values; an MLP; the logits) with its first port, how many it has, and their
/// input gradients one after another ([ports, sequences·T·d_model]); the ports of a stack follow one another in <see cref="EdgeGraph.Ports"/>.</param>
public sealed record PortGradients(IReadOnlyDictionary<Node, float[]> Outputs, IReadOnlyList<(Port First, int Count, float[] Gradients)> Stacks);

/// <summary>
/// A forward pass in which every receiving port — each head's query, key and value, each MLP, the logits — reads its
/// own copy of the residual stream, so that single edges can be cut: a port's input is the residual stream minus,
/// for every sender whose edge to it is cut, (that sender's output in this run − its ablated output). The query (key,
/// value) inputs of a layer's heads are stacked [heads, T, d_model], normed together and projected by one batched
/// product through each head's slice of W_Q (W_K, W_V). With every edge kept the logits equal the ordinary forward's;
/// taped, each port's input holds ∂metric/∂input for edge attribution.
/// </summary>
public sealed class EdgeForward
{
    private readonly HookedTransformer _model;
    // [layer][query, key, value]: every head's (key/value head's) projection stacked [heads, d_model, d_head], and its
    // bias [heads, d_head] where the model has one.
    private readonly Tensor[][] _projections;
    private readonly Tensor?[][] _biases;
    // [layer]: every head's W_O stacked [heads, d_head, d_model], so its write to the residual stream comes from hook_z by
    // one untaped product per head (the model's own hook_result would put a slice, product and concat per head on the tape).
    private readonly float[][] _headOutputs;
    // [layer] ln1's and ln2's weights, and the final norm's, as F32 rows (a port's gradient goes back through its norm).
    private readonly float[][] _ln1, _ln2;
    private readonly float[] _finalNorm;
    // [layer][query, key, value]: every head's projection transposed, [heads, d_head, d_model], which takes a head's
    // gradient back to its normed input with B read in place.
    private readonly float[][][] _backProjections;

    public EdgeGraph Graph { get; }
    public HookedTransformer Model => _model;

    /// <summary>
    /// A tape (the model's weights frozen) and an arena for a taped run's tensors, kept between attribution calls so that
    /// each reuses the last one's memory instead of faulting in and zeroing fresh megabytes; a second caller at the same
    /// time gets its own.
    /// </summary>
    public sealed class Scratch(HookedTransformer model)
    {
        public Tape Tape { get; } = AttributionPatching.ActivationTape(model);
        public TensorArena Arena { get; } = new();

        /// <summary>Forgets the last run: its tensors and gradients are overwritten by the next.</summary>
        public void Clear()
        {
            Tape.Clear();
            Arena.Reset();
        }
    }

    private Scratch? _scratch;

    public Scratch RentScratch() => Interlocked.Exchange(ref _scratch, null) ?? new Scratch(_model);

    public void ReturnScratch(Scratch scratch)
    {
        scratch.Clear();
        _scratch = scratch;
    }

    public EdgeForward(HookedTransformer model, EdgeGraph? graph = null)
    {
        _model = model;
        var c = model.Config;
        Graph = graph ?? new EdgeGraph(c);
        var w = model.Weights;
        (Tensor, Tensor?) Stack(int layer, int heads, Func<int, WeightMatrix> matrix, Func<AttentionWeights, Linear?> separate)
        {
            var weights = new float[heads * c.DModel * c.DHead];
            var a = w.Blocks[layer].Attention;
            var bias = (a.Qkv ?? separate(a))?.Bias?.ToArray();
            var biases = bias is null ? null : new float[heads * c.DHead];
            for (int h = 0; h < heads; h++)
            {
                var m = matrix(h);
                m.ToArray().CopyTo(weights, h * c.DModel * c.DHead);
                bias?.AsSpan(m.OutStart, c.DHead).CopyTo(biases.AsSpan(h * c.DHead));
            }
            return (Tensor.FromArray(weights, heads, c.DModel, c.DHead), biases is null ? null : Tensor.FromArray(biases, heads, c.DHead));
        }
        _projections = new Tensor[c.NLayers][];
        _biases = new Tensor?[c.NLayers][];
        _headOutputs = new float[c.NLayers][];
        for (int l = 0; l < c.NLayers; l++)
        {
            int layer = l;
            var stacked = new[]
            {
                Stack(layer, c.NHeads, h => WeightMatrices.Query(c, w, layer, h), a => a.Q),
                Stack(layer, c.NKvHeads, g => WeightMatrices.KeyOrValue(c, w, layer, g, value: false), a => a.K),
                Stack(layer, c.NKvHeads, g => WeightMatrices.KeyOrValue(c, w, layer, g, value: true), a => a.V),
            };
            _projections[l] = stacked.Select(s => s.Item1).ToArray();
            _biases[l] = stacked.Select(s => s.Item2).ToArray();
            _headOutputs[l] = Enumerable.Range(0, c.NHeads).SelectMany(h => WeightMatrices.Output(c, w, layer, h).ToArray()).ToArray();
        }
        _backProjections = _projections.Select(layer => layer.Select(p => Transposed(p.ToArray(), p.Dim(0), p.Dim(1), p.Dim(2))).ToArray()).ToArray();
        _ln1 = w.Blocks.Select(b => b.Ln1.Weight.ToArray()).ToArray();
        _ln2 = w.Blocks.Select(b => b.Ln2?.Weight.ToArray() ?? []).ToArray();
        _finalNorm = w.FinalNorm.Weight.ToArray();
    }

    /// <summary>Each of <paramref name="count"/> [rows, columns] matrices transposed in place of the next.</summary>
    private static float[] Transposed(float[] matrices, int count, int rows, int columns)
    {
        var transposed = new float[matrices.Length];
        for (int m = 0, size = rows * columns; m < count; m++)
            for (int r = 0; r < rows; r++)
                for (int col = 0; col < columns; col++) transposed[m * size + col * rows + r] = matrices[m * size + r * columns + col];
        return transposed;
    }

    /// <summary>Hook points whose activations give the senders' outputs (hook_z for the heads, whose writes are z · W_O[h]).</summary>
    public static IEnumerable<string> SenderHooks(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => c.AttentionOnly ? new[] { HookNames.Z(l) } : [HookNames.Z(l), HookNames.MlpOut(l)])
            .Prepend(HookNames.ResidPre(0));

    /// <summary>Every sender's output on <paramref name="ids"/> from an ordinary cached forward (what an ablation substitutes).</summary>
    /// <param name="arena">Where the forward's own tensors live (the outputs are copied out); null: fresh arrays.</param>
    /// <param name="kvCache">A frozen cache: the keys and values of the tokens before <paramref name="ids"/>, whose positions alone the outputs then hold;
    /// an empty one: filled with the run's keys and values (e.g. to freeze a prefix of them for runs that share it).</param>
    public Dictionary<Node, float[]> SenderOutputs(TokenBatch ids, TensorArena? arena = null, KvCache? kvCache = null)
    {
        var names = SenderHooks(_model.Config).ToHashSet();
        var hooks = new HookSet(names.Contains);
        _model.Residual(new Compute(arena: arena), ids, hooks, kvCache);
        var outputs = new Dictionary<Node, float[]>();
        foreach (var name in names) Capture(name, hooks.Cache[name], outputs);
        return outputs;
    }

    /// <summary>Each sender's mean output row [d_model] over every position of <paramref name="reference"/> (mean ablation).</summary>
    public Dictionary<Node, float[]> MeanRows(IReadOnlyList<int[]> reference)
    {
        if (reference.Count == 0) throw new ArgumentException("mean ablation needs at least one reference prompt");
        int d = _model.Config.DModel;
        var sums = new Dictionary<Node, double[]>();
        long rows = 0;
        foreach (var ids in reference)
        {
            foreach (var (node, output) in SenderOutputs(ids))
            {
                var sum = sums.TryGetValue(node, out var s) ? s : sums[node] = new double[d];
                for (int i = 0; i < output.Length; i++) sum[i % d] += output[i];
            }
            rows += ids.Length;
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => (float)(v / rows)).ToArray());
    }

    /// <summary>Each sender's mean row repeated at each of <paramref name="length"/> positions: what mean ablation substitutes in a prompt that long.</summary>
    public static Dictionary<Node, float[]> Repeated(IReadOnlyDictionary<Node, float[]> rows, int length) =>
        rows.ToDictionary(kv => kv.Key, kv =>
        {
            var repeated = new float[length * kv.Value.Length];
            for (int t = 0; t < length; t++) kv.Value.CopyTo(repeated, t * kv.Value.Length);
            return repeated;
        });

    /// <summary>
    /// Runs <paramref name="ids"/> with the edges <paramref name="keep"/> rejects cut (their senders' outputs replaced by
    /// <paramref name="ablated"/> at the receiving port only). With <paramref name="tape"/>, each port's input is marked
    /// for a gradient; <paramref name="before"/> runs first at its hook (e.g. to move the embeddings along a path).
    /// </summary>
    /// <param name="lastPositionOnly">Whether the logits of the last position suffice (a metric reading earlier rows needs all).</param>
    public EdgeRunResult Run(TokenBatch ids, Func<Edge, bool>? keep = null, IReadOnlyDictionary<Node, float[]>? ablated = null, Tape? tape = null,
        (string HookName, HookFunction Function)? before = null, bool lastPositionOnly = true)
    {
        if (keep is not null && ablated is null) throw new ArgumentException("cutting edges needs the senders' ablated outputs");
        return RunBatch(ids, keep is null ? null : [new CutSet(keep, ablated!)], tape, before, lastPositionOnly);
    }

    /// <summary>
    /// Runs <paramref name="ids"/> once per cut set, every row in one batch: row r cuts the edges cuts[r] rejects (null:
    /// one row, nothing cut). The logits are [rows · sequences, 1 (or T), vocab]; a sender's output holds every row, one after another.
    /// </summary>
    public EdgeRunResult RunBatch(TokenBatch ids, IReadOnlyList<CutSet>? cuts, Tape? tape = null, (string HookName, HookFunction Function)? before = null,
        bool lastPositionOnly = true)
    {
        var c = _model.Config;
        var cx = new Compute(tape);
        // A row is one cut set over every sequence of the run; the model sees rows · sequences sequences.
        int length = ids.Length, rows = cuts?.Count ?? 1, sequences = rows * ids.BatchSize;
        var outputs = new Dictionary<Node, float[]>();
        var inputs = new Dictionary<Port, PortInput>();
        var stacks = new List<(Port, Tensor)>();
        var residPre = new Tensor[c.NLayers];
        var residMid = new Tensor[c.NLayers];
        var ports = Graph.Ports.ToLookup(p => (p.Layer, p.Kind, p.NodeKind));
        int size = ids.BatchSize * length * c.DModel, all = rows * size;

        // With edges to cut: each captured sender's (output − ablated output) per row, and their running sum over every
        // sender so far, so that a port subtracts only what it keeps instead of adding up everything it cuts.
        var moved = new Dictionary<Node, float[]>();
        var cutAll = cuts is null ? null : new float[all];
        void Captured(string hookName, Tensor activation)
        {
            foreach (var node in Capture(hookName, activation, outputs))
            {
                if (cutAll is null) continue;
                var delta = new float[all];
                for (int r = 0; r < rows; r++)
                    Elementwise.AddScaled(outputs[node].AsSpan(r * size, size), cuts![r].Ablated[node], -1f, delta.AsSpan(r * size, size));
                Elementwise.ScaleAccumulate(delta, 1f, cutAll);
                moved[node] = delta;
            }
        }

        // The inputs of ports reading the same residual stream, stacked [ports, rows·sequences·T, d_model]: each its own copy (so
        // each is a slice of one tensor on the tape), less the ablation of the edges it cuts in each row.
        Tensor Inputs(IReadOnlyList<Port> group, Tensor resid)
        {
            var removed = cx.Allocate(group.Count, sequences * length, c.DModel);
            for (int i = 0; cutAll is not null && i < group.Count; i++)
                for (int r = 0; r < rows; r++)
                {
                    // −Σ over cut edges = −Σ over every sender captured so far + those this port keeps or is not fed by.
                    var slot = removed.Span.Slice(i * all + r * size, size);
                    Elementwise.Scale(cutAll.AsSpan(r * size, size), -1f, slot);
                    foreach (var (sender, delta) in moved)
                        if (!EdgeGraph.Feeds(c, sender, group[i]) || cuts![r].Keep(new Edge(sender, group[i]))) Elementwise.ScaleAccumulate(delta.AsSpan(r * size, size), 1f, slot);
                }
            var x = cx.Add(removed, cx.Reshape(resid, sequences * length, c.DModel));
            if (tape is not null)
            {
                // Its gradient is scratch of this run like any intermediate's, even where nothing before it took one.
                x.RequiresGrad = true;
                tape.AddIntermediate(x);
            }
            for (int i = 0; i < group.Count; i++)
            {
                if (Graph.PortIndex(group[i]) != Graph.PortIndex(group[0]) + i) throw new InvalidOperationException($"port {group[i]} does not follow {group[0]} in the graph");
                inputs[group[i]] = new PortInput(x, i);
            }
            stacks.Add((group[0], x));
            return x;
        }

        Tensor Heads(int layer, PortKind kind)
        {
            var group = ports[(layer, kind, NodeKind.Head)].OrderBy(p => p.Index).ToList();
            var normed = _model.ApplyNorm(cx, Inputs(group, residPre[layer]), _model.Weights.Blocks[layer].Ln1);
            int k = (int)kind;
            // [heads, sequences·T, d_head] → [sequences·T, heads, d_head], the layout the model's own projection has at this hook.
            var projected = cx.Contiguous(cx.Transpose(cx.BatchedMatMul(normed, _projections[layer][k]), 0, 1));
            if (_biases[layer][k] is { } b) projected = cx.Add(projected, b);
            return cx.Reshape(projected, sequences, length, group.Count, c.DHead);
        }

        Tensor Single(int layer, NodeKind receiver, Tensor resid) => cx.Reshape(Inputs([ports[(layer, PortKind.Input, receiver)].Single()], resid), sequences, length, c.DModel);

        // The ports supply each block's query, key, value and MLP input, so the model skips its own norms and fused Q/K/V
        // projection. Taped, its residual stream is handed back detached, so its own residual sums (which the rebuilt ones
        // replace) stay off the tape instead of back-propagating zeros; the residual stream the ports and later layers
        // read is rebuilt on the tape from the captured attention and MLP outputs.
        var attnOut = new Tensor[c.NLayers];
        var mlpOut = new Tensor[c.NLayers];
        Tensor? Detached(Tensor x) => tape is not null && x.RequiresGrad ? x.Clone() : null;
        Tensor? Rebuilt(int layer) => tape is null ? null
            : c.AttentionOnly ? cx.Add(residPre[layer], attnOut[layer])
            : c.ParallelResidual ? cx.Add(cx.Add(residPre[layer], attnOut[layer]), mlpOut[layer])
            : cx.Add(residMid[layer], mlpOut[layer]);

        var hooks = new HookSet();
        if (before is { } first) hooks.Add(first.HookName, first.Function);
        for (int l = 0; l < c.NLayers; l++)
        {
            int layer = l;
            hooks.Add(HookNames.ResidPre(layer), (x, name) =>
            {
                residPre[layer] = x;
                if (layer == 0) Captured(name, x);
                return Detached(x);
            });
            hooks.Supply(HookNames.Q(layer), _ => Heads(layer, PortKind.Query));
            hooks.Supply(HookNames.K(layer), _ => Heads(layer, PortKind.Key));
            hooks.Supply(HookNames.V(layer), _ => Heads(layer, PortKind.Value));
            hooks.Add(HookNames.Z(layer), (x, name) => { Captured(name, x); return null; });
            hooks.Add(HookNames.AttnOut(layer), (x, _) => { attnOut[layer] = x; return null; });
            hooks.Add(HookNames.ResidPost(layer), (x, _) =>
            {
                var resid = Rebuilt(layer) ?? x;
                return layer == c.NLayers - 1 ? Single(c.NLayers, NodeKind.Logits, resid) : resid;
            });
            if (c.AttentionOnly) continue;
            if (!c.ParallelResidual)
                hooks.Add(HookNames.ResidMid(layer), (x, _) =>
                {
                    residMid[layer] = tape is null ? x : cx.Add(residPre[layer], attnOut[layer]);
                    return Detached(x);
                });
            hooks.Supply(HookNames.Ln2Normalized(layer), _ =>
                _model.ApplyNorm(cx, Single(layer, NodeKind.Mlp, c.ParallelResidual ? residPre[layer] : residMid[layer]), _model.Weights.Blocks[layer].Ln2!));
            hooks.Add(HookNames.MlpOut(layer), (x, name) => { mlpOut[layer] = x; Captured(name, x); return null; });
        }
        var batch = new TokenBatch(sequences, length, Enumerable.Range(0, rows).SelectMany(_ => ids.Ids).ToArray());
        var logits = _model.Forward(cx, batch, hooks, lastPositionOnly: lastPositionOnly);
        return new EdgeRunResult(logits, inputs, outputs, stacks);
    }

    /// <summary>
    /// The gradients a taped <see cref="Run"/> with nothing cut leaves on its ports, from one taped ordinary forward and
    /// backward of <paramref name="metric"/>: every port of a block reads the same residual stream then, so its gradient
    /// is the model's own gradient where the port's path begins (a head's slice of hook_q, hook_k or hook_v taken back
    /// through that head's projection, an MLP's or the logits' normed input), taken back through the port's norm — no
    /// port needs its own copy of the residual stream, norm and projection. Also each sender's output on the run.
    /// </summary>
    /// <param name="scratch">Holds the run's tensors; the gradients are copied out.</param>
    /// <param name="before">Runs first at its hook (e.g. to move the embeddings along a path).</param>
    /// <param name="prefix">Keys and values of the tokens before <paramref name="ids"/> (a frozen <see cref="KvCache"/>): the gradients and outputs are then those
    /// of <paramref name="ids"/>' positions in the whole run (causal attention sends nothing from them back to the prefix).</param>
    public PortGradients Gradients(TokenBatch ids, AnswerMetric metric, Scratch scratch, (string HookName, HookFunction Function)? before = null, KvCache? prefix = null)
    {
        var c = _model.Config;
        var outputs = new Dictionary<Node, float[]>();
        var kept = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var hooks = new HookSet();
        if (before is { } first) hooks.Add(first.HookName, first.Function);
        // The embeddings take a gradient, so everything after them is taped.
        hooks.Add(HookNames.ResidPre(0), (x, _) =>
        {
            var leaf = x.Contiguous().Clone();
            leaf.RequiresGrad = true;
            scratch.Tape.AddIntermediate(leaf);
            return leaf;
        });
        foreach (var name in SenderHooks(c)) hooks.Add(name, (x, hookName) => { Capture(hookName, x, outputs); return null; });
        foreach (var name in GradientHooks(c)) hooks.Add(name, (x, hookName) => { kept[hookName] = x; return null; });
        var logits = _model.Forward(new Compute(scratch.Tape, scratch.Arena), ids, hooks, prefix, lastPositionOnly: metric.LastPositionOnly);
        metric.Backward(scratch.Tape, logits);

        int rows = ids.BatchSize * ids.Length, size = rows * c.DModel;
        var stacks = new List<(Port, int, float[])>();
        var ports = Graph.Ports.ToLookup(p => (p.Layer, p.Kind, p.NodeKind));
        var projected = new float[size];
        for (int l = 0; l < c.NLayers; l++)
        {
            var ln1 = new NormRows(this, kept[HookNames.ResidPre(l)], _ln1[l]);
            foreach (var (kind, hook, heads) in new[] { (PortKind.Query, HookNames.Q(l), c.NHeads), (PortKind.Key, HookNames.K(l), c.NKvHeads), (PortKind.Value, HookNames.V(l), c.NKvHeads) })
            {
                // Head h's slice of the gradient [rows, heads·d_head], back through its projection [d_head, d_model], then ln1.
                var gradient = kept[hook].Grad!.Span;
                var back = _backProjections[l][(int)kind];
                var stacked = new float[heads * size];
                for (int h = 0; h < heads; h++)
                {
                    Gemm.Multiply(rows, c.DModel, c.DHead, gradient[(h * c.DHead)..], heads * c.DHead, false,
                        back.AsSpan(h * c.DHead * c.DModel, c.DHead * c.DModel), c.DModel, false, projected, c.DModel);
                    ln1.Backward(projected, stacked.AsSpan(h * size, size));
                }
                stacks.Add((ports[(l, kind, NodeKind.Head)].MinBy(p => p.Index)!, heads, stacked));
            }
            if (c.AttentionOnly) continue;
            var mlp = new float[size];
            new NormRows(this, kept[c.ParallelResidual ? HookNames.ResidPre(l) : HookNames.ResidMid(l)], _ln2[l]).Backward(kept[HookNames.Ln2Normalized(l)].Grad!.Span, mlp);
            stacks.Add((ports[(l, PortKind.Input, NodeKind.Mlp)].Single(), 1, mlp));
        }
        var final = new float[size];
        new NormRows(this, kept[HookNames.ResidPost(c.NLayers - 1)], _finalNorm).Backward(kept[HookNames.FinalNormalized].Grad!.Span, final);
        stacks.Add((ports[(c.NLayers, PortKind.Input, NodeKind.Logits)].Single(), 1, final));
        return new PortGradients(outputs, stacks);
    }

    /// <summary>Hook points whose activations <see cref="Gradients"/> keeps: the norms' inputs, and where each port's path begins.</summary>
    private static IEnumerable<string> GradientHooks(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => new[] { HookNames.ResidPre(l), HookNames.Q(l), HookNames.K(l), HookNames.V(l) }
                .Concat(c.AttentionOnly ? [] : c.ParallelResidual ? [HookNames.Ln2Normalized(l)] : [HookNames.ResidMid(l), HookNames.Ln2Normalized(l)]))
            .Append(HookNames.ResidPost(c.NLayers - 1)).Append(HookNames.FinalNormalized);

    /// <summary>The model's norm with given weights at each row of an input [rows, d_model], its statistics computed once for every port that reads it.</summary>
    private sealed class NormRows
    {
        private readonly float[] _x, _weight, _means, _rstds;
        private readonly int _d;
        private readonly float _offset;
        private readonly bool _center;

        public NormRows(EdgeForward forward, Tensor input, float[] weight)
        {
            var c = forward._model.Config;
            (_x, _weight, _d, _offset, _center) = (input.ToArray(), weight, c.DModel, c.NormAddsOne ? 1f : 0f, c.Norm == NormKind.LayerNorm);
            int rows = _x.Length / _d;
            (_means, _rstds) = (new float[rows], new float[rows]);
            var normed = new float[_d];
            for (int r = 0; r < rows; r++) _rstds[r] = Normalization.Forward(_x.AsSpan(r * _d, _d), weight, _offset, default, c.NormEps, _center, normed, out _means[r]);
        }

        /// <summary>dx += the norm's backward for the output gradient <paramref name="dy"/>, row by row.</summary>
        public void Backward(ReadOnlySpan<float> dy, Span<float> dx)
        {
            for (int r = 0; r < _means.Length; r++)
                Normalization.Backward(_x.AsSpan(r * _d, _d), dy.Slice(r * _d, _d), _weight, _offset, _center, _means[r], _rstds[r], dx.Slice(r * _d, _d), default, default);
        }
    }

    /// <summary>Stores the senders' outputs found at a hook: the embeddings (resid_pre of block 0), each head's write z · W_O[h] (from hook_z), an MLP's output.</summary>
    private List<Node> Capture(string hookName, Tensor activation, Dictionary<Node, float[]> outputs)
    {
        var c = _model.Config;
        var values = activation.Contiguous().Span;
        for (int l = 0; l < c.NLayers; l++)
        {
            if (hookName == HookNames.Z(l))
            {
                // hook_z [rows, T, H, d_head]: head h's z is every H-th block of d_head, so its write is one strided product.
                int n = values.Length / (c.NHeads * c.DHead), block = c.DHead * c.DModel;
                var stored = new List<Node>(c.NHeads);
                for (int h = 0; h < c.NHeads; h++)
                {
                    var output = new float[n * c.DModel];
                    Gemm.Multiply(n, c.DModel, c.DHead, values[(h * c.DHead)..], c.NHeads * c.DHead, false,
                        _headOutputs[l].AsSpan(h * block, block), c.DModel, false, output, c.DModel);
                    var node = new Node(NodeKind.Head, l, h);
                    outputs[node] = output;
                    stored.Add(node);
                }
                return stored;
            }
            if (hookName == HookNames.MlpOut(l))
            {
                outputs[new Node(NodeKind.Mlp, l, 0)] = values.ToArray();
                return [new Node(NodeKind.Mlp, l, 0)];
            }
        }
        outputs[Node.Embed] = values.ToArray();
        return [Node.Embed];
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>What one run through <see cref="EdgeForward"/> gives back.</summary>
/// <param name="Inputs">Each receiving port's own input (the residual stream as that port saw it), with gradients after a taped backward when marked.</param>
/// <param name="Outputs">Each sender's write to the residual stream, [T, d_model] row-major.</param>
public sealed record EdgeRunResult(Tensor Logits, IReadOnlyDictionary<Port, Tensor> Inputs, IReadOnlyDictionary<Node, float[]> Outputs);

/// <summary>
/// A forward pass in which every receiving port — each head's query, key and value, each MLP, the logits — reads its
/// own copy of the residual stream, so that single edges can be cut: a port's input is the residual stream minus,
/// for every sender whose edge to it is cut, (that sender's output in this run − its ablated output). Heads are
/// projected one by one from their own normed input through their slice of W_Q, W_K, W_V. With every edge kept the
/// logits equal the ordinary forward's; taped, each port's input holds ∂metric/∂input for edge attribution.
/// </summary>
public sealed class EdgeForward
{
    private readonly HookedTransformer _model;
    private readonly Tensor[][] _query, _key, _value; // [layer][head] per-head projections [d_model, d_head], F32
    private readonly Tensor?[][] _queryBias, _keyBias, _valueBias;

    public EdgeGraph Graph { get; }
    public HookedTransformer Model => _model;

    public EdgeForward(HookedTransformer model, EdgeGraph? graph = null)
    {
        _model = model;
        var c = model.Config;
        Graph = graph ?? new EdgeGraph(c);
        var w = model.Weights;
        (Tensor[][], Tensor?[][]) Projections(int heads, Func<int, int, WeightMatrix> matrix, Func<AttentionWeights, Linear?> separate) =>
        (
            Enumerable.Range(0, c.NLayers).Select(l => Enumerable.Range(0, heads).Select(h =>
            {
                var m = matrix(l, h);
                return Tensor.FromArray(m.ToArray(), m.Rows, m.Columns);
            }).ToArray()).ToArray(),
            Enumerable.Range(0, c.NLayers).Select(l => Enumerable.Range(0, heads).Select(h =>
            {
                var a = w.Blocks[l].Attention;
                var bias = (a.Qkv ?? separate(a))?.Bias;
                return bias is null ? null : Tensor.FromArray(bias.ToArray().AsSpan(matrix(l, h).OutStart, c.DHead).ToArray(), c.DHead);
            }).ToArray()).ToArray()
        );
        (_query, _queryBias) = Projections(c.NHeads, (l, h) => WeightMatrices.Query(c, w, l, h), a => a.Q);
        (_key, _keyBias) = Projections(c.NKvHeads, (l, g) => WeightMatrices.KeyOrValue(c, w, l, g, value: false), a => a.K);
        (_value, _valueBias) = Projections(c.NKvHeads, (l, g) => WeightMatrices.KeyOrValue(c, w, l, g, value: true), a => a.V);
    }

    /// <summary>Hook points whose activations are the senders' outputs.</summary>
    public static IEnumerable<string> SenderHooks(TransformerConfig c) =>
        Enumerable.Range(0, c.NLayers).SelectMany(l => c.AttentionOnly ? new[] { HookNames.Result(l) } : [HookNames.Result(l), HookNames.MlpOut(l)])
            .Prepend(HookNames.ResidPre(0));

    /// <summary>Every sender's output on <paramref name="ids"/> from an ordinary cached forward (what an ablation substitutes).</summary>
    public static Dictionary<Node, float[]> SenderOutputs(HookedTransformer model, int[] ids)
    {
        var names = SenderHooks(model.Config).ToHashSet();
        var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), names.Contains, lastPositionOnly: true);
        var outputs = new Dictionary<Node, float[]>();
        foreach (var name in names) Capture(model.Config, name, cache[name], outputs);
        return outputs;
    }

    /// <summary>
    /// Each sender's mean output over every position of <paramref name="reference"/>, repeated at each of
    /// <paramref name="length"/> positions (mean ablation).
    /// </summary>
    public static Dictionary<Node, float[]> MeanOutputs(HookedTransformer model, IReadOnlyList<int[]> reference, int length)
    {
        if (reference.Count == 0) throw new ArgumentException("mean ablation needs at least one reference prompt");
        int d = model.Config.DModel;
        var sums = new Dictionary<Node, double[]>();
        long rows = 0;
        foreach (var ids in reference)
        {
            foreach (var (node, output) in SenderOutputs(model, ids))
            {
                var sum = sums.TryGetValue(node, out var s) ? s : sums[node] = new double[d];
                for (int i = 0; i < output.Length; i++) sum[i % d] += output[i];
            }
            rows += ids.Length;
        }
        return sums.ToDictionary(kv => kv.Key, kv =>
        {
            var row = kv.Value.Select(v => (float)(v / rows)).ToArray();
            var repeated = new float[length * d];
            for (int t = 0; t < length; t++) row.CopyTo(repeated, t * d);
            return repeated;
        });
    }

    /// <summary>
    /// Runs <paramref name="ids"/> with the edges <paramref name="keep"/> rejects cut (their senders' outputs replaced by
    /// <paramref name="ablated"/> at the receiving port only). With <paramref name="tape"/>, each port's input is marked
    /// for a gradient; <paramref name="before"/> runs first at its hook (e.g. to move the embeddings along a path).
    /// </summary>
    public EdgeRunResult Run(int[] ids, Func<Edge, bool>? keep = null, IReadOnlyDictionary<Node, float[]>? ablated = null, Tape? tape = null,
        (string HookName, HookFunction Function)? before = null)
    {
        if (keep is not null && ablated is null) throw new ArgumentException("cutting edges needs the senders' ablated outputs");
        var c = _model.Config;
        var cx = tape is null ? Compute.Eager : new Compute(tape);
        int length = ids.Length;
        var outputs = new Dictionary<Node, float[]>();
        var inputs = new Dictionary<Port, Tensor>();
        var residPre = new Tensor[c.NLayers];
        var residMid = new Tensor[c.NLayers];
        var ports = Graph.Ports.ToLookup(p => (p.Layer, p.Kind, p.NodeKind));

        // With edges to cut: each captured sender's (output − ablated output), and their running sum over every sender
        // so far, so that a port subtracts only what it keeps instead of adding up everything it cuts.
        var moved = new Dictionary<Node, float[]>();
        var cutAll = keep is null ? null : new float[length * c.DModel];
        void Captured(string hookName, Tensor activation)
        {
            foreach (var node in Capture(c, hookName, activation, outputs))
            {
                if (cutAll is null) continue;
                var delta = new float[cutAll.Length];
                Elementwise.AddScaled(outputs[node], ablated![node], -1f, delta);
                Elementwise.ScaleAccumulate(delta, 1f, cutAll);
                moved[node] = delta;
            }
        }

        Tensor Input(Port port, Tensor resid)
        {
            Tensor x;
            if (cutAll is null) x = cx.Scale(resid, 1f); // a copy, so that each port's input is its own node on the tape
            else
            {
                // Σ over cut edges = Σ over every sender captured so far − those this port keeps or is not fed by.
                var correction = (float[])cutAll.Clone();
                foreach (var (sender, delta) in moved)
                    if (!EdgeGraph.Feeds(c, sender, port) || keep!(new Edge(sender, port))) Elementwise.ScaleAccumulate(delta, -1f, correction);
                x = cx.Sub(resid, Tensor.FromArray(correction, resid.Shape.ToArray()));
            }
            if (tape is not null) x.RequiresGrad = true;
            inputs[port] = x;
            return x;
        }

        Tensor Heads(int layer, PortKind kind, Tensor[][] weights, Tensor?[][] biases, int heads)
        {
            var parts = new Tensor[heads];
            foreach (var port in ports[(layer, kind, NodeKind.Head)])
            {
                var normed = _model.ApplyNorm(cx, Input(port, residPre[layer]), _model.Weights.Blocks[layer].Ln1);
                var projected = cx.MatMul(normed, weights[layer][port.Index]);
                if (biases[layer][port.Index] is { } b) projected = cx.Add(projected, b);
                parts[port.Index] = cx.Reshape(projected, 1, length, 1, c.DHead);
            }
            return cx.Concat(parts, 2);
        }

        var hooks = new HookSet();
        if (before is { } first) hooks.Add(first.HookName, first.Function);
        for (int l = 0; l < c.NLayers; l++)
        {
            int layer = l;
            hooks.Add(HookNames.ResidPre(layer), (x, name) =>
            {
                residPre[layer] = x;
                if (layer == 0) Captured(name, x);
                return null;
            });
            hooks.Add(HookNames.Q(layer), (_, _) => Heads(layer, PortKind.Query, _query, _queryBias, c.NHeads));
            hooks.Add(HookNames.K(layer), (_, _) => Heads(layer, PortKind.Key, _key, _keyBias, c.NKvHeads));
            hooks.Add(HookNames.V(layer), (_, _) => Heads(layer, PortKind.Value, _value, _valueBias, c.NKvHeads));
            hooks.Add(HookNames.Result(layer), (x, name) => { Captured(name, x); return null; });
            if (c.AttentionOnly) continue;
            if (!c.ParallelResidual) hooks.Add(HookNames.ResidMid(layer), (x, _) => { residMid[layer] = x; return null; });
            hooks.Add(HookNames.Ln2Normalized(layer), (_, _) =>
                _model.ApplyNorm(cx, Input(ports[(layer, PortKind.Input, NodeKind.Mlp)].Single(), c.ParallelResidual ? residPre[layer] : residMid[layer]), _model.Weights.Blocks[layer].Ln2!));
            hooks.Add(HookNames.MlpOut(layer), (x, name) => { Captured(name, x); return null; });
        }
        hooks.Add(HookNames.ResidPost(c.NLayers - 1), (x, _) => Input(ports[(c.NLayers, PortKind.Input, NodeKind.Logits)].Single(), x));
        var logits = _model.Forward(cx, TokenBatch.Single(ids), hooks, lastPositionOnly: true);
        return new EdgeRunResult(logits, inputs, outputs);
    }

    /// <summary>Stores the senders' outputs found at a hook: the embeddings (resid_pre of block 0), each head's result, an MLP's output.</summary>
    private static List<Node> Capture(TransformerConfig c, string hookName, Tensor activation, Dictionary<Node, float[]> outputs)
    {
        var stored = new List<Node>();
        var values = activation.Contiguous().Span;
        int d = c.DModel;
        for (int l = 0; l < c.NLayers; l++)
        {
            if (hookName == HookNames.Result(l))
            {
                // hook_result [1, T, H, d_model]: head h's rows are every H-th block of d_model.
                int length = values.Length / (c.NHeads * d);
                for (int h = 0; h < c.NHeads; h++)
                {
                    var output = new float[length * d];
                    for (int t = 0; t < length; t++) values.Slice((t * c.NHeads + h) * d, d).CopyTo(output.AsSpan(t * d, d));
                    outputs[new Node(NodeKind.Head, l, h)] = output;
                    stored.Add(new Node(NodeKind.Head, l, h));
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

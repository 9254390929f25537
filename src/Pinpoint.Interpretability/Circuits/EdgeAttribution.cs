using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>One edge's score: the estimated change in the metric when the edge alone is cut (its sender replaced by the counterfactual's output at that port only).</summary>
public sealed record EdgeScore(Edge Edge, double Score);

/// <summary>
/// Edge attribution patching (EAP, Syed et al. 2023): for every edge u→v, (u's output on the counterfactual − on the
/// clean prompt) · ∂metric/∂(v's input), summed over positions — one cached counterfactual forward, one taped clean
/// forward and one backward for all edges, the clean ones only over the positions from the first where the prompts differ
/// (before it every sender moves by exactly 0). With integrated gradients (EAP-IG, Hanna et al. 2024) the gradient is
/// averaged over embeddings moved along the straight line from the counterfactual to the clean prompt.
/// </summary>
public static class EdgeAttribution
{
    /// <param name="igSteps">0 for plain EAP; S &gt; 0 averages gradients at α = (k + ½)/S.</param>
    public static double[] Scores(EdgeForward forward, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, int igSteps = 0)
    {
        ActivationPatching.CheckLengths(clean, counterfactual);
        var scratch = forward.RentScratch();
        // Before the first position where the prompts differ, causal attention makes every activation of the two runs the
        // same (each sender moves by exactly 0 there, so those positions add nothing to any score): the counterfactual runs
        // whole and untaped, keeping its keys and values, and the clean run continues from those of the shared positions.
        int shared = SharedPrefix(clean, counterfactual, metric);
        var prefix = shared == 0 ? null : new KvCache(forward.Model.Config, clean.BatchSize, clean.Length);
        var corrupt = forward.SenderOutputs(counterfactual, scratch.Arena, prefix);
        if (prefix is not null)
        {
            prefix.Freeze(shared);
            corrupt = From(corrupt, counterfactual, shared);
            clean = clean.Range(shared, clean.Length - shared);
        }
        var graph = forward.Graph;
        int size = clean.BatchSize * clean.Length * graph.Config.DModel;
        // Column s of moved: sender s's (counterfactual − clean) output. Every port against every sender is then one
        // product per stack of port inputs, [ports of the stack, T·d] · [T·d, senders], read straight off the taped
        // gradients with both operands as stored (a few rows against B in place); an edge's score is its cell
        // (summed over the gradient steps).
        int senders = graph.Senders.Count;
        float[]? moved = igSteps == 0 ? null : Moved(graph, corrupt, forward.SenderOutputs(clean, scratch.Arena, prefix), size);
        var products = new float[graph.Ports.Count * senders];
        int steps = Math.Max(igSteps, 1);
        try
        {
            for (int k = 0; k < steps; k++)
            {
                (string, HookFunction)? path = igSteps == 0 ? null
                    : (HookNames.ResidPre(0), (x, _) => Interpolate(x, corrupt[Node.Embed], (k + 0.5) / steps));
                var run = forward.Gradients(clean, metric, scratch, path, prefix);
                moved ??= Moved(graph, corrupt, run.Outputs, size);
                // Only the senders that feed a stack's layer (the first ones) have edges to it.
                foreach (var (first, count, gradients) in run.Stacks)
                    Gemm.Multiply(count, graph.FeedingSenders(first), size, gradients, size, false, moved, senders, false,
                        products.AsSpan(graph.PortIndex(first) * senders), senders, beta: 1f);
                scratch.Clear();
            }
        }
        finally
        {
            forward.ReturnScratch(scratch);
        }
        var scores = new double[graph.Edges.Count];
        for (int e = 0; e < scores.Length; e++) scores[e] = (double)products[graph.EdgePorts[e] * senders + graph.EdgeSenders[e]] / steps;
        return scores;
    }

    /// <summary>
    /// How many leading positions every sequence of the two runs shares, short of the first logit row the metric reads
    /// (which the continuation must compute); 0 for padded runs.
    /// </summary>
    private static int SharedPrefix(TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric)
    {
        if (clean.Mask is not null || counterfactual.Mask is not null) return 0;
        int length = clean.Length, shared = Math.Max(0, length - 1 - metric.Cells.Max(c => c.FromEnd));
        for (int b = 0; b < clean.BatchSize; b++)
            shared = clean.Ids.AsSpan(b * length, shared).CommonPrefixLength(counterfactual.Ids.AsSpan(b * length, shared));
        return shared;
    }

    /// <summary>Each sender's output from position <paramref name="start"/> on in every sequence of <paramref name="run"/>: [sequences, T, d_model] → [sequences, T − start, d_model].</summary>
    private static Dictionary<Node, float[]> From(Dictionary<Node, float[]> outputs, TokenBatch run, int start)
    {
        int length = run.Length, rest = length - start;
        return outputs.ToDictionary(kv => kv.Key, kv =>
        {
            int d = kv.Value.Length / (run.BatchSize * length);
            var kept = new float[run.BatchSize * rest * d];
            for (int b = 0; b < run.BatchSize; b++) kv.Value.AsSpan((b * length + start) * d, rest * d).CopyTo(kept.AsSpan(b * rest * d));
            return kept;
        });
    }

    /// <summary>[T·d_model, senders]: each sender's counterfactual output minus its clean one, a column per sender in <see cref="EdgeGraph.Senders"/> order.</summary>
    private static float[] Moved(EdgeGraph graph, IReadOnlyDictionary<Node, float[]> corrupt, IReadOnlyDictionary<Node, float[]> clean, int size)
    {
        int senders = graph.Senders.Count;
        var moved = new float[size * senders];
        var row = new float[size];
        for (int s = 0; s < senders; s++)
        {
            Elementwise.AddScaled(corrupt[graph.Senders[s]], clean[graph.Senders[s]], -1f, row);
            for (int i = 0; i < size; i++) moved[i * senders + s] = row[i];
        }
        return moved;
    }

    /// <summary>
    /// Exact path patching of single edges: the metric with only that edge cut (its sender's counterfactual output at
    /// that port), minus the clean metric — what <see cref="Scores"/> estimates.
    /// </summary>
    public static double[] Patch(EdgeForward forward, TokenBatch clean, TokenBatch counterfactual, AnswerMetric metric, IReadOnlyList<Edge> edges)
    {
        var corrupt = forward.SenderOutputs(counterfactual);
        double baseline = metric.FromLogits(forward.Run(clean, lastPositionOnly: metric.LastPositionOnly).Logits);
        return edges.Select(cut => metric.FromLogits(forward.Run(clean, e => e != cut, corrupt, lastPositionOnly: metric.LastPositionOnly).Logits) - baseline).ToArray();
    }

    /// <summary>corrupt + α·(x − corrupt): the embeddings a fraction α of the way from the counterfactual to the clean prompt.</summary>
    private static Tensor Interpolate(Tensor clean, float[] corrupt, double alpha)
    {
        var x = clean.Contiguous().Span;
        var moved = new float[x.Length];
        for (int i = 0; i < moved.Length; i++) moved[i] = (float)(corrupt[i] + alpha * (x[i] - corrupt[i]));
        return Tensor.FromArray(moved, clean.Shape.ToArray());
    }
}

using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Steering;

/// <summary>
/// Directional ablation (Arditi et al., 2024): the component along a unit direction r̂ is projected out of every write
/// to the residual stream — token and position embeddings, every attention output and every MLP output:
/// x ← x − (x·r̂) r̂. Since the residual stream is a sum of these writes, no layer can then read r̂ from it.
/// <see cref="Orthogonalize"/> bakes the same change into the weights.
/// </summary>
public sealed class DirectionalAblation : IHookIntervention
{
    /// <summary>r̂ as a [d_model, 1] column, and as a [1, d_model] row for the outer product.</summary>
    private readonly Tensor _column, _row;

    public float[] Direction { get; }

    public DirectionalAblation(float[] direction)
    {
        double norm = Math.Sqrt(direction.Sum(v => (double)v * v));
        if (!(norm > 0) || !double.IsFinite(norm)) throw new ArgumentException("the direction to ablate is zero or not finite");
        Direction = direction.Select(v => (float)(v / norm)).ToArray();
        _column = Tensor.FromArray(Direction, Direction.Length, 1);
        _row = Tensor.FromArray(Direction, 1, Direction.Length);
    }

    /// <summary>The hooks that write to the residual stream, in the order of the forward pass.</summary>
    public static IEnumerable<string> ResidualWrites(TransformerConfig config)
    {
        yield return HookNames.Embed;
        if (config.Positions == PositionKind.Learned) yield return HookNames.PosEmbed;
        for (int l = 0; l < config.NLayers; l++)
        {
            yield return HookNames.AttnOut(l);
            if (!config.AttentionOnly) yield return HookNames.MlpOut(l);
        }
    }

    public void Register(HookSet hooks, TransformerConfig config)
    {
        if (Direction.Length != config.DModel)
            throw new ArgumentException($"the direction to ablate has {Direction.Length} values; the model's residual stream has {config.DModel}");
        foreach (var hook in ResidualWrites(config))
            hooks.Add(hook, (x, _) =>
            {
                var cx = hooks.Compute;
                return cx.Sub(x, cx.MatMul(cx.MatMul(x, _column), _row));
            });
    }

    /// <summary>
    /// Weight orthogonalisation: F32 copies of the weights whose residual writes never contain r̂ — the embedding and
    /// position-embedding rows, and the output spaces (and biases) of every attention-output and MLP-output matrix, are
    /// projected off r̂. A tied unembedding is untied (kept as the original embedding), so the new weights compute
    /// exactly what the hooks do.
    /// </summary>
    public TransformerWeights Orthogonalize(TransformerWeights weights)
    {
        var copy = weights.Copy();
        var unembed = copy.Unembed;
        var embedding = copy.Embedding;
        if (ReferenceEquals(unembed.Weight, copy.Embedding)) embedding = embedding.Clone();
        ProjectRows(embedding);
        if (copy.PositionEmbedding is { } positions) ProjectRows(positions);
        foreach (var block in copy.Blocks)
        {
            ProjectOutput(block.Attention.O);
            if (block.Mlp is { } mlp) ProjectOutput(mlp.Out);
        }
        return copy with { Embedding = embedding, Unembed = unembed };
    }

    /// <summary>Each output of y = x·W (+ b) projected off r̂: W's output index is its column in [in, out], its row in [out, in].</summary>
    private void ProjectOutput(Linear linear)
    {
        if (linear.OutIn) ProjectColumns(linear.Weight);
        else ProjectRows(linear.Weight);
        if (linear.Bias is { } bias) ProjectRows(bias.Reshape(1, bias.Size));
    }

    /// <summary>Every row v of a [n, d_model] matrix becomes v − (v·r̂) r̂.</summary>
    private void ProjectRows(Tensor matrix)
    {
        var m = matrix.Span;
        int d = Direction.Length;
        for (int row = 0; row < m.Length / d; row++)
        {
            var v = m.Slice(row * d, d);
            double dot = 0;
            for (int i = 0; i < d; i++) dot += v[i] * Direction[i];
            for (int i = 0; i < d; i++) v[i] -= (float)(dot * Direction[i]);
        }
    }

    /// <summary>Every column of a [d_model, n] matrix projected off r̂.</summary>
    private void ProjectColumns(Tensor matrix)
    {
        var m = matrix.Span;
        int d = Direction.Length, n = m.Length / d;
        var dots = new double[n];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < n; j++) dots[j] += m[i * n + j] * Direction[i];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < n; j++) m[i * n + j] -= (float)(dots[j] * Direction[i]);
    }
}

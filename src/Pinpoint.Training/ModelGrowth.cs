using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Training;

/// <summary>
/// Grows a trained Llama-style model (RMSNorm, rotary, SwiGLU, full multi-head attention) into a larger shape without
/// changing what it computes, so training can continue in the larger model instead of starting over.
/// <list type="bullet">
/// <item>Old weights keep their indices: every old matrix becomes the top-left block of the new one (heads are
/// head-major rows of q/k/v and columns of o, so old heads keep their place and new heads come after them).</item>
/// <item>Matrices that write into the residual stream (o, down) and the embedding get zero new entries, so the new
/// residual dimensions stay exactly zero and new heads, MLP neurons and layers add nothing at step 0.</item>
/// <item>Matrices that read from a norm (q, k, v, gate, up, an untied unembedding) keep the fresh random draw of a
/// model trained from scratch in their new entries, so gradients reach the new dimensions; they read zeros at step 0.</item>
/// <item>RMSNorm gains are multiplied by √(d/D): the residual's new dimensions are zero, so its RMS over D dimensions is
/// the RMS over d dimensions times √(d/D). New gain entries take the mean of the scaled old gains (the layer's usual
/// scale). The epsilon inside the RMS becomes ε·d/D (<see cref="To"/>), so the norm's output is exactly the old one.</item>
/// <item>New layers are identity blocks (fresh random inputs, zero o and down, unit gains), interleaved evenly: old
/// layer i moves to round(i·(L′−1)/(L−1)), so the first and last layers stay first and last.</item>
/// </list>
/// AdamW moments follow the same placement: new entries start at zero, old entries keep theirs (the gains' moments
/// scaled as their gradients scale, by √(D/d) for the first moment and D/d for the second).
/// </summary>
public sealed class ModelGrowth
{
    public TransformerConfig From { get; }
    /// <summary>The grown model: the recipe's shape, with the norm epsilon scaled by d/D.</summary>
    public TransformerConfig To { get; }
    /// <summary>The new index of each old layer.</summary>
    public IReadOnlyList<int> LayerPositions { get; }

    /// <summary>Checks that <paramref name="to"/> is <paramref name="from"/> grown (one clear line naming the first dimension that is not); <paramref name="source"/> names the checkpoint.</summary>
    public ModelGrowth(TransformerConfig from, TransformerConfig to, string source)
    {
        string? problem = Problem(from, to);
        if (problem is not null)
            throw new InvalidDataException($"{source}: a {CheckpointModel.Describe(from)} model, but the recipe trains a {CheckpointModel.Describe(to)} model, and it cannot grow into it: {problem}");
        // RMS over D dims with d of them nonzero is √(d/D)·RMS over d dims only if epsilon scales by d/D too.
        (From, To) = (from, to with { NormEps = from.NormEps * from.DModel / to.DModel });
        LayerPositions = Enumerable.Range(0, from.NLayers)
            .Select(i => from.NLayers == 1 ? 0 : (int)Math.Round((double)i * (to.NLayers - 1) / (from.NLayers - 1), MidpointRounding.AwayFromZero))
            .ToArray();
    }

    private static string? Problem(TransformerConfig from, TransformerConfig to)
    {
        if (from.Architecture != to.Architecture) return $"it is a '{from.Architecture}' model, the recipe trains '{to.Architecture}'";
        if (from is not { Norm: NormKind.RmsNorm, Positions: PositionKind.Rotary, GatedMlp: true, AttentionOnly: false })
            return "growing needs a Llama-style model (RMSNorm, rotary positions, gated MLP)";
        if (from.NKvHeads != from.NHeads) return $"grouped-query attention ({from.NHeads} query heads, {from.NKvHeads} key/value heads) cannot be grown";
        if (from.DHead != to.DHead) return $"head_dim would change from {from.DHead} to {to.DHead} (d_model / n_heads must stay {from.DHead})";
        if (from.RotaryDim != to.RotaryDim || from.RopeTheta != to.RopeTheta) return "rotary dimensions and rope theta must match";
        if (from.VocabSize != to.VocabSize) return $"vocab {from.VocabSize} differs from the recipe's {to.VocabSize}";
        if (from.ContextLength != to.ContextLength) return $"context {from.ContextLength} differs from the recipe's {to.ContextLength}";
        foreach (var (name, old, grown) in new[]
                 {
                     ("d_model", from.DModel, to.DModel), ("n_layers", from.NLayers, to.NLayers),
                     ("n_heads", from.NHeads, to.NHeads), ("d_mlp", from.DMlp, to.DMlp),
                 })
            if (grown < old) return $"{name} would shrink from {old} to {grown}";
        return null;
    }

    /// <summary>
    /// The grown weights, built in <paramref name="fresh"/> (a random initialisation of <see cref="To"/>, which supplies
    /// the new entries of input-side matrices; it is overwritten and returned) from <paramref name="old"/>.
    /// </summary>
    public TransformerWeights Grow(TransformerWeights old, TransformerWeights fresh)
    {
        // An untied unembedding reads the final norm: its new columns take the fresh draw the embedding had before it is zeroed.
        if (!ReferenceEquals(old.Unembed.Weight, old.Embedding) && ReferenceEquals(fresh.Unembed.Weight, fresh.Embedding))
        {
            var unembed = fresh.Embedding.Clone();
            unembed.RequiresGrad = true;
            fresh = fresh with { Unembed = fresh.Unembed with { Weight = unembed } };
        }
        return Place(old, fresh, MathF.Sqrt((float)From.DModel / To.DModel), fillNormsWithMean: true);
    }

    /// <summary>
    /// AdamW moments of the grown parameters: <paramref name="oldMoments"/> (the old parameters' first moments when
    /// <paramref name="power"/> is 1, second when 2) placed like the weights, zeros elsewhere; shaped like <paramref name="grown"/>.
    /// </summary>
    public TransformerWeights GrowMoments(TransformerWeights oldMoments, TransformerWeights grown, int power) =>
        Place(oldMoments, grown.Map(t => Tensor.Zeros(t.Shape.ToArray())), MathF.Pow((float)To.DModel / From.DModel, power / 2f), fillNormsWithMean: false);

    private TransformerWeights Place(TransformerWeights old, TransformerWeights target, float normScale, bool fillNormsWithMean)
    {
        CopyInto(old.Embedding, target.Embedding, zeroRest: true);
        if (!ReferenceEquals(target.Unembed.Weight, target.Embedding)) CopyInto(old.Unembed.Weight, target.Unembed.Weight, zeroRest: false);
        PlaceNorm(old.FinalNorm, target.FinalNorm, normScale, fillNormsWithMean);
        var oldAt = new int[To.NLayers];
        Array.Fill(oldAt, -1);
        for (int i = 0; i < LayerPositions.Count; i++) oldAt[LayerPositions[i]] = i;
        for (int l = 0; l < To.NLayers; l++)
        {
            var t = target.Blocks[l];
            if (oldAt[l] < 0)
            {
                // A new layer: identity until training moves its output projections off zero.
                t.Attention.O.Weight.Span.Clear();
                t.Mlp!.Out.Weight.Span.Clear();
                continue;
            }
            var o = old.Blocks[oldAt[l]];
            PlaceNorm(o.Ln1, t.Ln1, normScale, fillNormsWithMean);
            PlaceNorm(o.Ln2!, t.Ln2!, normScale, fillNormsWithMean);
            foreach (var (from, to) in new[] { (o.Attention.Q!, t.Attention.Q!), (o.Attention.K!, t.Attention.K!), (o.Attention.V!, t.Attention.V!), (o.Mlp!.In, t.Mlp!.In), (o.Mlp.Up!, t.Mlp.Up!) })
                CopyInto(from.Weight, to.Weight, zeroRest: false);
            CopyInto(o.Attention.O.Weight, t.Attention.O.Weight, zeroRest: true);
            CopyInto(o.Mlp.Out.Weight, t.Mlp.Out.Weight, zeroRest: true);
        }
        return target;
    }

    /// <summary>Writes <paramref name="old"/> (rank 1 or 2) into the leading block of <paramref name="target"/>, clearing the rest first when asked.</summary>
    private static void CopyInto(Tensor old, Tensor target, bool zeroRest, float scale = 1f)
    {
        var source = old.Contiguous().Span;
        var destination = target.Span;
        if (zeroRest) destination.Clear();
        int rows = old.Rank == 2 ? old.Dim(0) : 1, cols = old.Rank == 2 ? old.Dim(1) : old.Dim(0), targetCols = target.Rank == 2 ? target.Dim(1) : target.Dim(0);
        for (int r = 0; r < rows; r++)
        {
            var row = destination.Slice(r * targetCols, cols);
            source.Slice(r * cols, cols).CopyTo(row);
            if (scale != 1f) foreach (ref float x in row) x *= scale;
        }
    }

    private static void PlaceNorm(NormWeights old, NormWeights target, float scale, bool fillWithMean)
    {
        int d = old.Weight.Dim(0);
        CopyInto(old.Weight, target.Weight, zeroRest: false, scale);
        var gains = target.Weight.Span;
        float fill = 0f;
        if (fillWithMean)
        {
            double sum = 0;
            foreach (float g in gains[..d]) sum += g;
            fill = (float)(sum / d);
        }
        gains[d..].Fill(fill);
    }
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// A linear map y = x·W (+ b). <see cref="Weight"/> is kept in the layout the file stores it in, so memory-mapped
/// weights are never copied: [in, out] (GPT-2 Conv1D) or [out, in] (nn.Linear, GGUF, llama2.c) when <see cref="OutIn"/>.
/// </summary>
public sealed record Linear(Tensor Weight, bool OutIn, Tensor? Bias = null)
{
    public int InFeatures => OutIn ? Weight.Dim(1) : Weight.Dim(0);
    public int OutFeatures => OutIn ? Weight.Dim(0) : Weight.Dim(1);

    public void CheckShape(string name, int inFeatures, int outFeatures)
    {
        if (Weight.Rank != 2 || InFeatures != inFeatures || OutFeatures != outFeatures)
            throw new ModelConfigException($"{name}: weight {Weight.Describe()} does not map {inFeatures} → {outFeatures} features as the config says");
        if (Bias is not null && (Bias.Rank != 1 || Bias.Dim(0) != outFeatures))
            throw new ModelConfigException($"{name}: bias {Bias.Describe()} does not have {outFeatures} elements");
    }
}

public sealed record NormWeights(Tensor Weight, Tensor? Bias);

public sealed record AttentionWeights
{
    /// <summary>Separate projections (Llama, Qwen2) ...</summary>
    public Linear? Q { get; init; }
    public Linear? K { get; init; }
    public Linear? V { get; init; }
    /// <summary>... or one fused [q | k | v] projection (GPT-2, GPT-NeoX after de-interleaving heads), sliced after the product.</summary>
    public Linear? Qkv { get; init; }
    public required Linear O { get; init; }
}

public sealed record MlpWeights
{
    /// <summary>Input projection (the gate in a gated MLP): produces hook_pre.</summary>
    public required Linear In { get; init; }
    /// <summary>Up projection of a gated MLP: produces hook_pre_linear.</summary>
    public Linear? Up { get; init; }
    public required Linear Out { get; init; }
}

/// <summary>One block; <see cref="Ln2"/> and <see cref="Mlp"/> are null in attention-only models.</summary>
public sealed record BlockWeights(NormWeights Ln1, AttentionWeights Attention, NormWeights? Ln2, MlpWeights? Mlp);

public sealed record TransformerWeights
{
    /// <summary>[vocab, d_model].</summary>
    public required Tensor Embedding { get; init; }
    /// <summary>[context, d_model] for learned positions.</summary>
    public Tensor? PositionEmbedding { get; init; }
    public required IReadOnlyList<BlockWeights> Blocks { get; init; }
    public required NormWeights FinalNorm { get; init; }
    /// <summary>Unembedding as a linear map d_model → vocab (often the embedding itself, stored [vocab, d_model]).</summary>
    public required Linear Unembed { get; init; }

    /// <summary>Independent F32 copies of every weight (a tied unembedding stays tied), optionally marked to receive gradients.</summary>
    public TransformerWeights Copy(bool requiresGrad = false) => Map(t =>
    {
        var fresh = t.Clone();
        fresh.RequiresGrad = requiresGrad;
        return fresh;
    });

    /// <summary>Whether the unembedding is the embedding itself or an equal copy (GGUF files store output.weight even when tied).</summary>
    public bool UnembedIsTied =>
        ReferenceEquals(Unembed.Weight, Embedding)
        || (Unembed.OutIn && Unembed.Weight.SameShape(Embedding) && Unembed.Weight.ToArray().AsSpan().SequenceEqual(Embedding.ToArray()));

    /// <summary>
    /// The same weights with every tensor passed through <paramref name="map"/> once: a tensor used twice (a tied
    /// unembedding) maps to one result, so ties survive.
    /// </summary>
    public TransformerWeights Map(Func<Tensor, Tensor> map)
    {
        var mapped = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        Tensor T(Tensor t) => mapped.TryGetValue(t, out var existing) ? existing : mapped[t] = map(t);
        Tensor? Opt(Tensor? t) => t is null ? null : T(t);
        Linear? L(Linear? l) => l is null ? null : l with { Weight = T(l.Weight), Bias = Opt(l.Bias) };
        NormWeights N(NormWeights n) => new(T(n.Weight), Opt(n.Bias));
        return this with
        {
            Embedding = T(Embedding),
            PositionEmbedding = Opt(PositionEmbedding),
            Blocks = Blocks.Select(b => new BlockWeights(
                N(b.Ln1),
                b.Attention with { Q = L(b.Attention.Q), K = L(b.Attention.K), V = L(b.Attention.V), Qkv = L(b.Attention.Qkv), O = L(b.Attention.O)! },
                b.Ln2 is null ? null : N(b.Ln2),
                b.Mlp is null ? null : b.Mlp with { In = L(b.Mlp.In)!, Up = L(b.Mlp.Up), Out = L(b.Mlp.Out)! })).ToList(),
            FinalNorm = N(FinalNorm),
            Unembed = L(Unembed)!,
        };
    }

    /// <summary>Every distinct tensor, with a stable name (the names checkpoints are written with).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Parameters()
    {
        yield return ("embed.W_E", Embedding);
        if (PositionEmbedding is not null) yield return ("pos_embed.W_pos", PositionEmbedding);
        for (int l = 0; l < Blocks.Count; l++)
        {
            var b = Blocks[l];
            foreach (var p in Norm($"blocks.{l}.ln1", b.Ln1)) yield return p;
            foreach (var p in Lin($"blocks.{l}.attn.qkv", b.Attention.Qkv)) yield return p;
            foreach (var p in Lin($"blocks.{l}.attn.q", b.Attention.Q)) yield return p;
            foreach (var p in Lin($"blocks.{l}.attn.k", b.Attention.K)) yield return p;
            foreach (var p in Lin($"blocks.{l}.attn.v", b.Attention.V)) yield return p;
            foreach (var p in Lin($"blocks.{l}.attn.o", b.Attention.O)) yield return p;
            if (b.Ln2 is not null) foreach (var p in Norm($"blocks.{l}.ln2", b.Ln2)) yield return p;
            foreach (var p in Lin($"blocks.{l}.mlp.in", b.Mlp?.In)) yield return p;
            foreach (var p in Lin($"blocks.{l}.mlp.up", b.Mlp?.Up)) yield return p;
            foreach (var p in Lin($"blocks.{l}.mlp.out", b.Mlp?.Out)) yield return p;
        }
        foreach (var p in Norm("ln_final", FinalNorm)) yield return p;
        if (!ReferenceEquals(Unembed.Weight, Embedding)) foreach (var p in Lin("unembed", Unembed)) yield return p;
        else if (Unembed.Bias is not null) yield return ("unembed.b", Unembed.Bias);

        static IEnumerable<(string, Tensor)> Norm(string name, NormWeights n)
        {
            yield return ($"{name}.w", n.Weight);
            if (n.Bias is not null) yield return ($"{name}.b", n.Bias);
        }

        static IEnumerable<(string, Tensor)> Lin(string name, Linear? l)
        {
            if (l is null) yield break;
            yield return ($"{name}.W", l.Weight);
            if (l.Bias is not null) yield return ($"{name}.b", l.Bias);
        }
    }
}

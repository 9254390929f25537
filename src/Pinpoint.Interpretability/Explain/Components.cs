namespace Pinpoint.Interpretability.Explain;

public enum ComponentKind { Embedding, PositionEmbedding, Head, AttentionBias, Mlp, Neuron }

/// <summary>Something that writes into the residual stream, named the way TransformerLens users read it (L3H2, MLP1, L1N123).</summary>
public sealed record Component(ComponentKind Kind, int Layer, int Index)
{
    public string Name => Kind switch
    {
        ComponentKind.Embedding => "embed",
        ComponentKind.PositionEmbedding => "pos_embed",
        ComponentKind.Head => $"L{Layer}H{Index}",
        ComponentKind.AttentionBias => $"L{Layer} attn bias",
        ComponentKind.Mlp => $"MLP{Layer}",
        _ => $"L{Layer}N{Index}",
    };

    public override string ToString() => Name;
}

/// <summary>A component's share of the metric (logit-difference units unless stated).</summary>
public sealed record Attribution(Component Component, double Value);

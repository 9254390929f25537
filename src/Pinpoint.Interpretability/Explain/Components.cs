using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Pinpoint.Interpretability.Reports;

namespace Pinpoint.Interpretability.Explain;

public enum ComponentKind { Embedding, PositionEmbedding, Head, AttentionBias, Mlp, Neuron }

/// <summary>Something that writes into the residual stream, named the way TransformerLens users read it (L3H2, MLP1, L1N123).</summary>
[JsonConverter(typeof(ComponentNameJson))]
public sealed partial record Component(ComponentKind Kind, int Layer, int Index)
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

    /// <summary>The component <see cref="Name"/> names (any kind; not checked against a model).</summary>
    public static Component Parse(string name) =>
        TryParse(name, out var component) ? component : throw new ArgumentException($"'{name}' is not a component name (L1H3, MLP2, L0N17, embed, pos_embed, L0 attn bias)");

    public static bool TryParse(string name, out Component component)
    {
        var m = NamePattern().Match(name.Trim());
        component = null!;
        if (!m.Success) return false;
        int Int(string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        component = m.Groups["embed"].Success ? new Component(ComponentKind.Embedding, 0, 0)
            : m.Groups["pos"].Success ? new Component(ComponentKind.PositionEmbedding, 0, 0)
            : m.Groups["mlp"].Success ? new Component(ComponentKind.Mlp, Int("mlp"), 0)
            : m.Groups["head"].Success ? new Component(ComponentKind.Head, Int("layer"), Int("head"))
            : m.Groups["neuron"].Success ? new Component(ComponentKind.Neuron, Int("layer"), Int("neuron"))
            : new Component(ComponentKind.AttentionBias, Int("layer"), 0);
        return true;
    }

    [GeneratedRegex(@"^(?:(?<embed>embed)|(?<pos>pos_embed)|MLP(?<mlp>\d{1,4})|L(?<layer>\d{1,4})(?:H(?<head>\d{1,5})|N(?<neuron>\d{1,6})|(?<bias> attn bias)))$")]
    private static partial Regex NamePattern();
}

/// <summary>A component's share of the metric (logit-difference units unless stated).</summary>
public sealed record Attribution(Component Component, double Value);

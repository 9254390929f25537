using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>An edge of the circuit: sender, receiving port, and its mean edge-attribution score (logit-difference units).</summary>
/// <param name="ToNodes">The nodes the port feeds: one head for a query, every head of the group for a grouped key or value.</param>
public sealed record CircuitEdge(string From, string To, double Score, string[] ToNodes);

/// <summary>
/// What a head does on the first item: where it attends from the last position, what its output promotes, its OV
/// circuit (what it writes from the token it attends to most) and its QK circuit (which source tokens its weights
/// favour from the last token).
/// </summary>
public sealed record HeadReadout(AttendedToken[] AttendsTo, TokenScore[] Promotes, OvCircuit OvCircuit, QkCircuit QkCircuit);

/// <summary>A node of the circuit with its mechanism readout (heads: attention, OV and QK; MLPs: the tokens their output promotes).</summary>
/// <param name="Layer">-1 for the embeddings, the number of layers for the logits.</param>
/// <param name="TopContexts">For an MLP whose layer has a neuron dashboard store: the strongest corpus contexts of its neurons that carry
/// most of the difference on the first item (by attribution patching); null otherwise (heads have no such store).</param>
public sealed record CircuitNode(string Name, string Kind, int Layer, int Index, HeadReadout? Head = null, TokenScore[]? Promotes = null,
    IReadOnlyList<NeuronContexts>? TopContexts = null);

/// <summary>One edge checked by exact path patching on one item: its score and the change measured by cutting it alone.</summary>
public sealed record PatchedEdge(string Edge, double Estimate, double Exact);

/// <param name="Spearman">Edge scores against exact path patching over <see cref="Edges"/>; null when undefined.</param>
public sealed record PathPatchingCheck(double Spearman, PatchedEdge[] Edges);

/// <summary>
/// A circuit found and measured (the JSON contract of <c>pinpoint circuit</c>). Faithfulness is the metric summed over
/// the items the model gets right with only the circuit's edges live, over the full model's sum; random circuits
/// have the same number of edges.
/// </summary>
public sealed record CircuitReport
{
    /// <summary>"logit_diff" (target − foil logit at the last position) or "logprob_diff" (teacher-forced log p(target) − log p(foil)).</summary>
    public required string Metric { get; init; }
    /// <summary>What the metric and edge scores are in: "logits" or "nats".</summary>
    public required string Unit { get; init; }
    /// <summary>"eap", or "eap_ig" with integrated-gradient steps.</summary>
    public required string Method { get; init; }
    public int IgSteps { get; init; }
    public required int Items { get; init; }
    /// <summary>Items where the target wins; only their difference is there for a circuit to keep.</summary>
    public required int CountedItems { get; init; }
    /// <summary>Edges of the full graph.</summary>
    public required int TotalEdges { get; init; }
    /// <summary>Top edges taken before pruning.</summary>
    public required int RequestedEdges { get; init; }
    /// <summary>Resample faithfulness asked for; null when the size was fixed.</summary>
    public double? TargetFaithfulness { get; init; }
    public required bool ReachedTarget { get; init; }
    public required CircuitEdge[] Edges { get; init; }
    public required CircuitNode[] Nodes { get; init; }
    public required Faithfulness Faithfulness { get; init; }
    public required Faithfulness RandomFaithfulness { get; init; }
    public required CurvePoint[] Curve { get; init; }
    public required PathPatchingCheck PathPatching { get; init; }
    public required ExplainSummary Summary { get; init; }
    /// <summary>The strongest edges of the whole graph (beyond the circuit), for context.</summary>
    public required CircuitEdge[] TopEdges { get; init; }
    /// <summary>Full path of the HTML report, where a front end wrote one.</summary>
    public string? Html { get; init; }
}

using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

public enum NodeKind { Embed, Head, Mlp, Logits }

/// <summary>
/// A node of the computational graph: the embeddings (token plus position), one attention head, one MLP, or the
/// logits. Named as TransformerLens users read them: embed, L1H3, MLP2, logits.
/// </summary>
public sealed record Node(NodeKind Kind, int Layer, int Index)
{
    public static readonly Node Embed = new(NodeKind.Embed, -1, 0);

    public string Name => Kind switch
    {
        NodeKind.Embed => "embed",
        NodeKind.Head => $"L{Layer}H{Index}",
        NodeKind.Mlp => $"MLP{Layer}",
        _ => "logits",
    };

    public override string ToString() => Name;
}

/// <summary>Which input of a node an edge feeds: a head's query, key or value, or the whole input of an MLP or the logits.</summary>
public enum PortKind { Query, Key, Value, Input }

/// <summary>
/// A receiving input. Query ports belong to one head; key and value ports belong to a key/value head (<see cref="Index"/>)
/// that several query heads share under grouped-query attention, so they are named by it (L2H1.k, or L2G1.k when grouped).
/// </summary>
public sealed record Port(PortKind Kind, NodeKind NodeKind, int Layer, int Index, bool Grouped)
{
    public string Name => NodeKind switch
    {
        NodeKind.Mlp => $"MLP{Layer}",
        NodeKind.Logits => "logits",
        _ => Kind switch
        {
            PortKind.Query => $"L{Layer}H{Index}.q",
            PortKind.Key => $"L{Layer}{(Grouped ? "G" : "H")}{Index}.k",
            _ => $"L{Layer}{(Grouped ? "G" : "H")}{Index}.v",
        },
    };

    /// <summary>The query heads this port feeds (one for a query, every head of the group for a key or value).</summary>
    public IEnumerable<Node> Nodes(TransformerConfig c) => NodeKind switch
    {
        NodeKind.Head when Kind == PortKind.Query => [new Node(NodeKind.Head, Layer, Index)],
        NodeKind.Head => Enumerable.Range(Index * c.QueriesPerKvHead, c.QueriesPerKvHead).Select(h => new Node(NodeKind.Head, Layer, h)),
        _ => [new Node(NodeKind, NodeKind == NodeKind.Logits ? c.NLayers : Layer, 0)],
    };

    public override string ToString() => Name;
}

/// <summary>A sender's output reaching a receiving port through the residual stream.</summary>
public sealed record Edge(Node From, Port To)
{
    public string Name => $"{From.Name}->{To.Name}";

    public override string ToString() => Name;
}

/// <summary>
/// Every sender, receiving port and edge of a model: a sender writes to the residual stream before a receiver reads
/// it (heads of layer l feed the MLP of layer l unless attention and MLP run in parallel).
/// </summary>
public sealed class EdgeGraph
{
    public TransformerConfig Config { get; }
    public IReadOnlyList<Node> Senders { get; }
    public IReadOnlyList<Port> Ports { get; }
    public IReadOnlyList<Edge> Edges { get; }
    private readonly Dictionary<string, Edge> _byName;
    private readonly Dictionary<Node, int> _senderIndex;
    private readonly Dictionary<Port, int> _portIndex;
    private readonly int[] _feeding;

    public EdgeGraph(TransformerConfig c)
    {
        Config = c;
        bool grouped = c.NKvHeads != c.NHeads;
        var senders = new List<Node> { Node.Embed };
        var ports = new List<Port>();
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) ports.Add(new Port(PortKind.Query, NodeKind.Head, l, h, grouped));
            for (int g = 0; g < c.NKvHeads; g++) ports.Add(new Port(PortKind.Key, NodeKind.Head, l, g, grouped));
            for (int g = 0; g < c.NKvHeads; g++) ports.Add(new Port(PortKind.Value, NodeKind.Head, l, g, grouped));
            if (!c.AttentionOnly) ports.Add(new Port(PortKind.Input, NodeKind.Mlp, l, 0, grouped));
            for (int h = 0; h < c.NHeads; h++) senders.Add(new Node(NodeKind.Head, l, h));
            if (!c.AttentionOnly) senders.Add(new Node(NodeKind.Mlp, l, 0));
        }
        ports.Add(new Port(PortKind.Input, NodeKind.Logits, c.NLayers, 0, grouped));
        Senders = senders;
        Ports = ports;
        Edges = ports.SelectMany(p => senders.Where(s => Feeds(c, s, p)).Select(s => new Edge(s, p))).ToList();
        _byName = Edges.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _senderIndex = senders.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        _portIndex = ports.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
        // Senders are in the order they write to the residual stream, so those feeding a port come first.
        _feeding = ports.Select(p => senders.TakeWhile(s => Feeds(c, s, p)).Count()).ToArray();
        EdgeSenders = Edges.Select(e => _senderIndex[e.From]).ToArray();
        EdgePorts = Edges.Select(e => _portIndex[e.To]).ToArray();
    }

    /// <summary>Each edge's sender, as its index in <see cref="Senders"/> (in <see cref="Edges"/> order).</summary>
    public IReadOnlyList<int> EdgeSenders { get; }

    /// <summary>Each edge's port, as its index in <see cref="Ports"/> (in <see cref="Edges"/> order).</summary>
    public IReadOnlyList<int> EdgePorts { get; }

    /// <summary>How many senders feed <paramref name="port"/>: the first that many of <see cref="Senders"/>.</summary>
    public int FeedingSenders(Port port) => _feeding[_portIndex[port]];

    /// <summary>Where a sender stands in <see cref="Senders"/>.</summary>
    public int SenderIndex(Node sender) => _senderIndex[sender];

    /// <summary>Where a port stands in <see cref="Ports"/>.</summary>
    public int PortIndex(Port port) => _portIndex[port];

    /// <summary>Whether <paramref name="sender"/> has written to the residual stream by the time <paramref name="port"/> reads it.</summary>
    public static bool Feeds(TransformerConfig c, Node sender, Port port) => sender.Kind switch
    {
        NodeKind.Embed => true,
        NodeKind.Head when port.NodeKind == NodeKind.Mlp && !c.ParallelResidual => sender.Layer <= port.Layer,
        _ => sender.Layer < port.Layer,
    };

    /// <summary>The edge named "SENDER->PORT" (e.g. "L0H1->L1H0.k"); an error naming close matches when the model has no such edge.</summary>
    public Edge Find(string name)
    {
        if (_byName.TryGetValue(name.Trim(), out var edge)) return edge;
        var near = Edges.Select(e => e.Name).OrderBy(n => Distance(n, name)).Take(3);
        throw new ArgumentException($"the model has no edge '{name}' (edges are SENDER->PORT such as {Edges[0].Name}; closest: {string.Join(", ", near)})");
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int previous = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int keep = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = keep;
            }
        }
        return row[b.Length];
    }
}

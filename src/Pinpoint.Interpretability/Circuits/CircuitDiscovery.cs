using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Circuits;

/// <summary>
/// A prediction a circuit should carry: the run its metric reads (a prompt, or one sequence per answer for a teacher-forced
/// metric), the same with the counterfactual prompt (what resample ablation draws from), and the metric — a target-vs-foil
/// difference, positive where the model gets the item right.
/// </summary>
public sealed record CircuitItem(TokenBatch Run, TokenBatch CounterfactualRun, AnswerMetric Metric);

/// <summary>How a circuit is chosen and measured.</summary>
public sealed record CircuitOptions
{
    /// <summary>Keep exactly this many top edges (before pruning); when null, the smallest circuit reaching <see cref="TargetFaithfulness"/>.</summary>
    public int? Edges { get; init; }
    /// <summary>Resample faithfulness the smallest circuit must reach, in (0, 1].</summary>
    public double TargetFaithfulness { get; init; } = 0.8;
    /// <summary>Points of the faithfulness curve, spread logarithmically from 1 edge to all of them.</summary>
    public int CurvePoints { get; init; } = 30;
    /// <summary>Random circuits of the same size measured beside the found one.</summary>
    public int RandomDraws { get; init; } = 5;
    /// <summary>0 for plain edge attribution patching, S &gt; 0 for EAP-IG with S gradient steps.</summary>
    public int IgSteps { get; init; }
    /// <summary>Top edges, and as many random ones, checked by exact path patching (on up to <see cref="PatchItems"/> items).</summary>
    public int PatchEdges { get; init; } = 10;
    public int PatchItems { get; init; } = 3;
    /// <summary>Edges ("SENDER->PORT") to check by path patching instead of the top and random ones.</summary>
    public IReadOnlyList<string>? CheckEdges { get; init; }
    public int Seed { get; init; }
    /// <summary>Where neuron dashboard stores are looked up for the MLP nodes' top contexts (null: the model's own <c>dashboards/</c> folder).</summary>
    public string? DashboardFolder { get; init; }
    /// <summary>Neurons per MLP node whose top contexts are shown.</summary>
    public int ContextNeurons { get; init; } = 3;

    public void Validate()
    {
        if (Edges is < 1) throw new ArgumentException($"a circuit needs at least 1 edge, not {Edges}");
        if (!(TargetFaithfulness > 0 && TargetFaithfulness <= 1)) throw new ArgumentException($"target faithfulness {TargetFaithfulness} is outside (0, 1]");
        if (CurvePoints < 1 || RandomDraws < 1 || IgSteps < 0 || PatchEdges < 0 || PatchItems < 0)
            throw new ArgumentException("curve points and random draws must be positive; IG steps and patched edges not negative");
    }
}

/// <summary>Faithfulness under both ablations: the metric with only the circuit's edges live, over the full model's metric.</summary>
/// <param name="Mean">Cut edges carry the sender's mean output over the reference prompts; null where the base is near 0.</param>
/// <param name="Resample">Cut edges carry the sender's output on the counterfactual prompt.</param>
public sealed record Faithfulness(double Mean, double Resample);

public sealed record CurvePoint(int Edges, int PrunedEdges, double Mean, double Resample);

/// <summary>The edges ranked by attribution, the chosen circuit (pruned) and its checks.</summary>
/// <param name="Ranked">Every edge with its mean score over the items, by |score|.</param>
/// <param name="Circuit">The chosen top edges after pruning those whose receiver no longer reaches the logits.</param>
/// <param name="Requested">How many top edges were taken before pruning.</param>
/// <param name="ReachedTarget">Whether the circuit reaches the target faithfulness (false when --edges fixed the size).</param>
/// <param name="PatchSpearman">Spearman of the edge scores against exact path patching of the checked edges.</param>
/// <param name="Patched">The checked edges: (edge, estimate, exact) per item, pooled.</param>
/// <param name="FullMetric">Sum of the full model's metric over the items it counts (those where the target wins).</param>
public sealed record CircuitResult(
    IReadOnlyList<EdgeScore> Ranked, IReadOnlyList<EdgeScore> Circuit, int Requested, bool ReachedTarget,
    Faithfulness Faithfulness, Faithfulness RandomFaithfulness, IReadOnlyList<CurvePoint> Curve,
    double PatchSpearman, IReadOnlyList<(Edge Edge, double Estimate, double Exact)> Patched, int Items, int CountedItems, double FullMetric);

/// <summary>
/// Circuit discovery: rank every edge by edge attribution patching (mean score over the items), keep the top N,
/// prune edges into nodes that no longer reach the logits, and measure faithfulness by running the model with every
/// other edge cut (mean and resample ablation) beside random circuits of the same size.
/// </summary>
public static class CircuitDiscovery
{
    /// <summary>Circuits measured per pass over the items (one batched run per item each).</summary>
    private const int PointsPerPass = 16;

    public static CircuitResult Run(EdgeForward forward, IReadOnlyList<CircuitItem> items, IReadOnlyList<int[]> reference, CircuitOptions options,
        Action<string, int, int>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        if (items.Count == 0) throw new ArgumentException("circuit discovery needs at least one item");
        var graph = forward.Graph;
        var checkEdges = options.CheckEdges?.Select(graph.Find).ToList();
        var sums = new double[graph.Edges.Count];
        var itemScores = new List<double[]>(); // of the items path patching checks
        for (int i = 0; i < items.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var s = EdgeAttribution.Scores(forward, items[i].Run, items[i].CounterfactualRun, items[i].Metric, options.IgSteps);
            for (int e = 0; e < sums.Length; e++) sums[e] += s[e];
            if (i < options.PatchItems) itemScores.Add(s);
            progress?.Invoke("edge attribution", i + 1, items.Count);
        }
        var ranked = graph.Edges.Select((e, i) => new EdgeScore(e, sums[i] / items.Count)).OrderByDescending(x => Math.Abs(x.Score)).ToList();

        var measure = new FaithfulnessMeter(forward, items, reference, progress, cancel);
        var grid = Grid(graph.Edges.Count, options.CurvePoints);
        var sets = grid.Select(n => (IReadOnlySet<Edge>)Prune(graph, ranked.Take(n).Select(x => x.Edge))).ToList();
        var curve = new List<CurvePoint>();
        for (int first = 0; first < grid.Count; first += PointsPerPass)
        {
            var measured = measure.Of(sets.Skip(first).Take(PointsPerPass).ToList(), $"faithfulness curve, points {first + 1}–{Math.Min(first + PointsPerPass, grid.Count)} of {grid.Count}, items");
            curve.AddRange(measured.Select((f, k) => new CurvePoint(grid[first + k], sets[first + k].Count, f.Mean, f.Resample)));
        }

        int requested;
        bool reached = false;
        if (options.Edges is { } fixedSize) requested = Math.Min(fixedSize, graph.Edges.Count);
        else
        {
            int first = curve.FindIndex(p => p.Resample >= options.TargetFaithfulness);
            reached = first >= 0;
            requested = reached ? curve[first].Edges : graph.Edges.Count;
            // Search between the last grid point below the target and the first above it: up to PointsPerPass sizes
            // spread over the interval per pass, all sizes at once when they fit.
            int low = first > 0 ? curve[first - 1].Edges : 0;
            while (reached && requested - low > 1)
            {
                int count = Math.Min(requested - low - 1, PointsPerPass);
                var sizes = Enumerable.Range(1, count).Select(k => low + (int)((long)(requested - low) * k / (count + 1))).Distinct().ToList();
                var measured = measure.Of(sizes.Select(n => (IReadOnlySet<Edge>)Prune(graph, ranked.Take(n).Select(x => x.Edge))).ToList(), $"sizes {low + 1}–{requested - 1}, items");
                int hit = measured.FindIndex(f => f.Resample >= options.TargetFaithfulness);
                if (hit >= 0) (low, requested) = (hit > 0 ? sizes[hit - 1] : low, sizes[hit]);
                else low = sizes[^1];
            }
        }
        var circuit = Prune(graph, ranked.Take(requested).Select(x => x.Edge));
        var faithfulness = measure.Of(circuit);

        var random = new Random(options.Seed);
        var draws = measure.Of(Enumerable.Range(0, options.RandomDraws).Select(_ => (IReadOnlySet<Edge>)graph.Edges.OrderBy(_ => random.Next()).Take(circuit.Count).ToHashSet()).ToList(),
            $"{options.RandomDraws} random circuits, items");
        double randomMean = draws.Average(f => f.Mean), randomResample = draws.Average(f => f.Resample);

        var chosen = checkEdges ?? ranked.Take(options.PatchEdges).Select(x => x.Edge)
            .Concat(ranked.Skip(options.PatchEdges).OrderBy(_ => random.Next()).Take(options.PatchEdges).Select(x => x.Edge)).ToList();
        var (spearman, patched) = PatchCheck(forward, items, itemScores, chosen, cancel);
        var scoreOf = ranked.ToDictionary(x => x.Edge, x => x);
        return new CircuitResult(ranked, circuit.Select(e => scoreOf[e]).OrderByDescending(x => Math.Abs(x.Score)).ToList(), requested, reached,
            faithfulness, new Faithfulness(randomMean, randomResample), curve, spearman, patched, items.Count, measure.CountedItems, measure.FullMetric);
    }

    /// <summary>Exact path patching of the chosen edges, against their scores on the same items.</summary>
    private static (double Spearman, List<(Edge, double, double)> Patched) PatchCheck(EdgeForward forward, IReadOnlyList<CircuitItem> items,
        List<double[]> itemScores, List<Edge> chosen, CancellationToken cancel)
    {
        var patched = new List<(Edge, double, double)>();
        var index = forward.Graph.Edges.Select((e, k) => (e, k)).ToDictionary(x => x.e, x => x.k);
        for (int i = 0; i < itemScores.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var (item, estimates) = (items[i], itemScores[i]);
            var exact = EdgeAttribution.Patch(forward, item.Run, item.CounterfactualRun, item.Metric, chosen);
            patched.AddRange(chosen.Select((e, k) => (e, estimates[index[e]], exact[k])));
        }
        double spearman = patched.Count < 2 ? double.NaN : Statistics.Spearman(patched.Select(p => p.Item2).ToList(), patched.Select(p => p.Item3).ToList());
        return (spearman, patched);
    }

    /// <summary>1 … <paramref name="total"/> in about <paramref name="points"/> logarithmic steps (distinct, ascending, ending at total).</summary>
    public static List<int> Grid(int total, int points)
    {
        if (points <= 1) return [total];
        return Enumerable.Range(0, points).Select(k => (int)Math.Round(Math.Pow(total, k / (double)(points - 1)))).Distinct().ToList();
    }

    /// <summary>
    /// The edges left when every edge into a node that no longer reaches the logits is dropped. Dropping them changes no faithfulness: such a node's output is cut everywhere anyway.
    /// </summary>
    public static HashSet<Edge> Prune(EdgeGraph graph, IEnumerable<Edge> edges)
    {
        var c = graph.Config;
        var kept = edges.ToHashSet();
        bool Reaches(Port p, HashSet<Node> reaching) => p.NodeKind == NodeKind.Logits || p.Nodes(c).Any(reaching.Contains);
        // Receivers from the logits backwards (an MLP reads after the heads of its own layer), so every node's status is
        // known before the edges into it are looked at.
        var reaching = new HashSet<Node>();
        foreach (var e in kept.OrderByDescending(e => e.To.Layer).ThenByDescending(e => e.To.NodeKind == NodeKind.Mlp))
            if (Reaches(e.To, reaching)) reaching.Add(e.From);
        kept.RemoveWhere(e => !Reaches(e.To, reaching));
        return kept;
    }

    /// <summary>Runs circuits on every item with the other edges cut; sums weight items by their full-model metric.</summary>
    private sealed class FaithfulnessMeter
    {
        private readonly EdgeForward _forward;
        private readonly Action<string, int, int>? _progress;
        private readonly CancellationToken _cancel;
        private readonly List<(CircuitItem Item, double Full, IReadOnlyDictionary<Node, float[]> Mean, IReadOnlyDictionary<Node, float[]> Resample)> _items;

        public int CountedItems => _items.Count;
        public double FullMetric { get; }

        public FaithfulnessMeter(EdgeForward forward, IReadOnlyList<CircuitItem> items, IReadOnlyList<int[]> reference, Action<string, int, int>? progress, CancellationToken cancel)
        {
            _forward = forward;
            _progress = progress;
            _cancel = cancel;
            var model = forward.Model;
            // The reference prompts run once; each prompt length gets their mean rows repeated.
            var meanRows = forward.MeanRows(reference);
            var means = new Dictionary<int, Dictionary<Node, float[]>>();
            _items = [];
            foreach (var item in items)
            {
                double full = item.Metric.FromLogits(forward.Run(item.Run, lastPositionOnly: item.Metric.LastPositionOnly).Logits);
                // Only items the model gets right have a difference for the circuit to keep.
                if (full <= 0) continue;
                int length = item.Run.BatchSize * item.Run.Length;
                var mean = means.TryGetValue(length, out var m) ? m : means[length] = EdgeForward.Repeated(meanRows, length);
                _items.Add((item, full, mean, forward.SenderOutputs(item.CounterfactualRun)));
            }
            FullMetric = _items.Sum(x => x.Full);
        }

        public Faithfulness Of(IReadOnlySet<Edge> circuit) => Of(new List<IReadOnlySet<Edge>> { circuit })[0];

        /// <summary>
        /// Faithfulness of each circuit. Per item, every circuit under both ablations runs as one row of a batch
        /// (<see cref="RowsPerRun"/> at most), so the model's weights are read once for many circuits.
        /// </summary>
        /// <param name="stage">What progress reports name, item by item; null for none.</param>
        public List<Faithfulness> Of(IReadOnlyList<IReadOnlySet<Edge>> circuits, string? stage = null)
        {
            if (_items.Count == 0) return circuits.Select(_ => new Faithfulness(double.NaN, double.NaN)).ToList();
            var mean = new double[circuits.Count];
            var resample = new double[circuits.Count];
            const int perRun = RowsPerRun / 2;
            for (int i = 0; i < _items.Count; i++)
            {
                _cancel.ThrowIfCancellationRequested();
                var (item, _, meanValues, resampleValues) = _items[i];
                for (int first = 0; first < circuits.Count; first += perRun)
                {
                    var chunk = circuits.Skip(first).Take(perRun).ToList();
                    var cuts = chunk.SelectMany(circuit => new[] { new CutSet(circuit.Contains, meanValues), new CutSet(circuit.Contains, resampleValues) }).ToList();
                    var logits = _forward.RunBatch(item.Run, cuts, lastPositionOnly: item.Metric.LastPositionOnly).Logits;
                    double Row(int r) => item.Metric.FromLogits(logits, r * item.Run.BatchSize);
                    for (int k = 0; k < chunk.Count; k++)
                    {
                        mean[first + k] += Row(2 * k);
                        resample[first + k] += Row(2 * k + 1);
                    }
                }
                if (stage is not null) _progress?.Invoke(stage, i + 1, _items.Count);
            }
            return mean.Select((m, k) => new Faithfulness(m / FullMetric, resample[k] / FullMetric)).ToList();
        }

        /// <summary>Rows of one batched run: enough to share the weights' reads, few enough to keep each port's stacked input small.</summary>
        private const int RowsPerRun = 32;
    }
}

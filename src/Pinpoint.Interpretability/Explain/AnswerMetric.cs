using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>The metrics <c>explain --metric</c> offers.</summary>
public enum MetricKind
{
    /// <summary>Target − foil logit (first tokens) at the answer position.</summary>
    LogitDiff,
    /// <summary>Teacher-forced log-probability of the whole target (sum over its tokens).</summary>
    LogProb,
    /// <summary>Teacher-forced probability of the whole target (product over its tokens).</summary>
    Prob,
    /// <summary>KL divergence of the run's next-token distributions from the clean run's, over the answer rows.</summary>
    Kl,
    /// <summary>Teacher-forced log p(target tokens) − log p(foil tokens): answers of any length, one run row each.</summary>
    LogProbDiff,
}

/// <summary>One logit row a metric reads: sequence <paramref name="Sequence"/> of the batch, <paramref name="FromEnd"/> positions before its last.</summary>
public readonly record struct MetricCell(int Sequence, int FromEnd);

/// <summary>One answer token's part in a sum-of-log-probabilities metric.</summary>
/// <param name="Answer">"target" or "foil".</param>
/// <param name="Index">The token's place in its answer.</param>
/// <param name="Token">Its id.</param>
/// <param name="Sign">+1 where the metric adds its log-probability, −1 where it subtracts it.</param>
public sealed record MetricTerm(string Answer, int Index, int Token, int Sign);

/// <summary>
/// A scalar read off chosen logit rows of a run (<see cref="Cells"/>: by default the last <c>rows</c> positions of a single
/// sequence), with its gradient with respect to those rows: everything patching, attribution patching and ablation need
/// from a metric. Any function of the logits can be one (<see cref="AnswerMetric(string, string, int, Func{float[][], double}, Func{float[][], float[][]})"/>);
/// the built-in ones are <see cref="LogitDiff"/>, <see cref="LogProb"/>, <see cref="Prob"/>, <see cref="Kl"/> and <see cref="LogProbDiff"/>.
/// </summary>
public sealed class AnswerMetric
{
    private readonly Func<float[][], double> _value;
    private readonly Func<float[][], float[][]> _gradient;

    /// <param name="name">As JSON writes it ("logit_diff").</param>
    /// <param name="unit">What its values are in ("logits", "nats", "probability").</param>
    /// <param name="cells">The logit rows it reads, in the order <paramref name="value"/> gets them.</param>
    /// <param name="value">The metric from those rows.</param>
    /// <param name="gradient">∂metric/∂logits for the same rows (same shapes).</param>
    /// <param name="terms">For a sum of log-probabilities: each cell's answer token and sign.</param>
    public AnswerMetric(string name, string unit, IReadOnlyList<MetricCell> cells, Func<float[][], double> value, Func<float[][], float[][]> gradient,
        IReadOnlyList<MetricTerm>? terms = null)
    {
        if (cells.Count == 0) throw new ArgumentException("a metric reads at least one row", nameof(cells));
        if (cells.Any(c => c.Sequence < 0 || c.FromEnd < 0)) throw new ArgumentException("metric cells count sequences and positions from 0", nameof(cells));
        if (terms is not null && terms.Count != cells.Count) throw new ArgumentException($"{terms.Count} terms for {cells.Count} cells", nameof(terms));
        (Name, Unit, Cells, Terms, _value, _gradient) = (name, unit, cells, terms, value, gradient);
    }

    /// <summary>A metric of the last <paramref name="rows"/> positions of a single sequence, first to last.</summary>
    public AnswerMetric(string name, string unit, int rows, Func<float[][], double> value, Func<float[][], float[][]> gradient)
        : this(name, unit, rows >= 1 ? LastPositions(rows) : throw new ArgumentOutOfRangeException(nameof(rows), rows, "a metric reads at least one row"), value, gradient)
    {
    }

    public string Name { get; }
    public string Unit { get; }
    public IReadOnlyList<MetricCell> Cells { get; }
    /// <summary>Per cell, the answer token whose log-probability it adds or subtracts; null for metrics that are not such sums.</summary>
    public IReadOnlyList<MetricTerm>? Terms { get; }

    /// <summary>How many logit rows it reads.</summary>
    public int Rows => Cells.Count;

    /// <summary>How many sequences the run it reads has.</summary>
    public int Sequences => Cells.Max(c => c.Sequence) + 1;

    /// <summary>Whether a forward may compute the logits of the last position only.</summary>
    public bool LastPositionOnly => Cells.All(c => c.FromEnd == 0);

    /// <summary>The metric of its rows.</summary>
    public double Value(float[][] rows) => _value(rows);

    /// <summary>∂metric/∂logits for the same rows.</summary>
    public float[][] Gradient(float[][] rows) => _gradient(rows);

    /// <summary>The metric of a run's logits [sequences, T, V] (or [rows·sequences, T, V] read from sequence <paramref name="first"/> on).</summary>
    public double FromLogits(Tensor logits, int first = 0) => _value(Read(logits, first));

    /// <summary>Each term's log-probability in a run's logits (null for metrics without <see cref="Terms"/>).</summary>
    public double[]? TermValues(Tensor logits) => Terms is null ? null
        : Read(logits, 0).Select((row, i) => LanguageModelling.LogSoftmax(row)[Terms[i].Token]).ToArray();

    /// <summary>Back-propagates the metric from a taped run's logits [sequences, T, V].</summary>
    public void Backward(Tape tape, Tensor logits)
    {
        var grad = _gradient(Read(logits, 0));
        var seed = Tensor.Zeros(logits.Shape.ToArray());
        var span = seed.Span;
        for (int r = 0; r < Cells.Count; r++)
        {
            var row = span.Slice(Offset(logits, Cells[r], 0), grad[r].Length);
            for (int v = 0; v < row.Length; v++) row[v] += grad[r][v];
        }
        tape.Backward(logits, seed);
    }

    /// <summary>The cells' logit rows, reading sequences from <paramref name="first"/> on.</summary>
    private float[][] Read(Tensor logits, int first)
    {
        var values = logits.Contiguous();
        int v = logits.Dim(-1);
        var rows = new float[Cells.Count][];
        for (int r = 0; r < rows.Length; r++) rows[r] = values.Span.Slice(Offset(logits, Cells[r], first), v).ToArray();
        return rows;
    }

    private static int Offset(Tensor logits, MetricCell cell, int first)
    {
        int v = logits.Dim(-1), t = logits.Dim(-2), sequences = logits.Size / (v * t);
        if (cell.FromEnd >= t) throw new ArgumentException($"the metric reads {cell.FromEnd + 1} positions but the logits have {t}; run the forward with every position");
        if (first + cell.Sequence >= sequences) throw new ArgumentException($"the metric reads sequence {first + cell.Sequence} but the run has {sequences}");
        return ((first + cell.Sequence) * t + t - 1 - cell.FromEnd) * v;
    }

    private static MetricCell[] LastPositions(int rows) => Enumerable.Range(0, rows).Select(r => new MetricCell(0, rows - 1 - r)).ToArray();

    /// <summary>The last <paramref name="rows"/> rows of logits [1, T, V].</summary>
    public static float[][] LastRows(Tensor logits, int rows)
    {
        int v = logits.Dim(-1), t = logits.Size / v;
        if (t < rows) throw new ArgumentException($"the metric reads {rows} positions but the logits have {t}; run the forward with every position");
        var span = logits.Contiguous().Span;
        var result = new float[rows][];
        for (int r = 0; r < rows; r++) result[r] = span.Slice((t - rows + r) * v, v).ToArray();
        return result;
    }

    public static AnswerMetric LogitDiff(int target, int foil) => new("logit_diff", "logits", 1,
        r => (double)r[0][target] - r[0][foil],
        r =>
        {
            var g = new float[r[0].Length];
            g[target] = 1;
            g[foil] = -1;
            return [g];
        });

    /// <summary>Σ log p(answer[i] | prompt, answer[..i]) over the last answer.Length rows (teacher forcing).</summary>
    public static AnswerMetric LogProb(IReadOnlyList<int> answer) => new("logprob", "nats", LastPositions(answer.Count),
        r => SequenceLogProb(r, answer),
        r => r.Select((row, i) => OneHotMinusSoftmax(row, answer[i], 1)).ToArray(),
        answer.Select((token, i) => new MetricTerm("target", i, token, 1)).ToArray());

    /// <summary>Π p(answer[i] | …): the whole answer's probability under teacher forcing.</summary>
    public static AnswerMetric Prob(IReadOnlyList<int> answer) => new("prob", "probability", answer.Count,
        r => Math.Exp(SequenceLogProb(r, answer)),
        r =>
        {
            double p = Math.Exp(SequenceLogProb(r, answer));
            return r.Select((row, i) => OneHotMinusSoftmax(row, answer[i], p)).ToArray();
        });

    /// <summary>
    /// log p(target | prompt) − log p(foil | prompt), each teacher-forced (Σ over its tokens), on the run
    /// <see cref="LogProbDiffRun"/> builds: sequence 0 reads the target's tokens, sequence 1 the foil's (with two single
    /// tokens one sequence reads both, and the metric is the logit difference: the log-softmax normaliser cancels).
    /// </summary>
    public static AnswerMetric LogProbDiff(IReadOnlyList<int> target, IReadOnlyList<int> foil)
    {
        if (target.SequenceEqual(foil)) throw new ArgumentException("target and foil are the same tokens; their log-probability difference is 0");
        bool shared = target.Count == 1 && foil.Count == 1;
        int length = Math.Max(target.Count, foil.Count);
        // Right padding: the shorter answer's rows end before the last position, so its cells count back from further.
        IEnumerable<(MetricCell Cell, MetricTerm Term)> Of(IReadOnlyList<int> answer, string name, int sequence, int sign) =>
            answer.Select((token, i) => (new MetricCell(sequence, length - 1 - i), new MetricTerm(name, i, token, sign)));
        var cells = Of(target, "target", 0, 1).Concat(Of(foil, "foil", shared ? 0 : 1, -1)).ToArray();
        var terms = cells.Select(c => c.Term).ToArray();
        return new("logprob_diff", "nats", cells.Select(c => c.Cell).ToArray(),
            r => r.Select((row, i) => terms[i].Sign * LanguageModelling.LogSoftmax(row)[terms[i].Token]).Sum(),
            r => r.Select((row, i) => OneHotMinusSoftmax(row, terms[i].Token, terms[i].Sign)).ToArray(),
            terms);
    }

    /// <summary>
    /// The run <see cref="LogProbDiff"/> reads: the prompt followed by every target token but the last, and (unless both
    /// answers are single tokens) the prompt followed by every foil token but the last, right-padded to one length with
    /// the row's last token — causal attention keeps padding after an answer from changing anything before it.
    /// </summary>
    public static TokenBatch LogProbDiffRun(IReadOnlyList<int> prompt, IReadOnlyList<int> target, IReadOnlyList<int> foil)
    {
        if (target.Count == 1 && foil.Count == 1) return TokenBatch.Single(prompt);
        int length = prompt.Count + Math.Max(target.Count, foil.Count) - 1;
        var ids = new int[2 * length];
        int[][] rows = [[.. prompt, .. target.Take(target.Count - 1)], [.. prompt, .. foil.Take(foil.Count - 1)]];
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < length; t++) ids[b * length + t] = rows[b][Math.Min(t, rows[b].Length - 1)];
        return new TokenBatch(2, length, ids);
    }

    /// <summary>Σ over the rows of KL(clean ‖ run), from the clean run's logit rows (0 on the clean run itself).</summary>
    public static AnswerMetric Kl(float[][] cleanRows)
    {
        var clean = cleanRows.Select(row => LanguageModelling.LogSoftmax(row)).ToArray();
        return new("kl", "nats", cleanRows.Length,
            r =>
            {
                double kl = 0;
                for (int i = 0; i < r.Length; i++)
                {
                    var run = LanguageModelling.LogSoftmax(r[i]);
                    for (int v = 0; v < run.Length; v++) kl += Math.Exp(clean[i][v]) * (clean[i][v] - run[v]);
                }
                return kl;
            },
            // ∂KL/∂z = softmax(z) − p_clean.
            r => r.Select((row, i) =>
            {
                var run = LanguageModelling.LogSoftmax(row);
                return run.Select((lp, v) => (float)(Math.Exp(lp) - Math.Exp(clean[i][v]))).ToArray();
            }).ToArray());
    }

    private static double SequenceLogProb(float[][] rows, IReadOnlyList<int> answer)
    {
        double sum = 0;
        for (int i = 0; i < rows.Length; i++) sum += LanguageModelling.LogSoftmax(rows[i])[answer[i]];
        return sum;
    }

    /// <summary>scale · (onehot(token) − softmax(row)): the gradient of scale-weighted log p(token).</summary>
    private static float[] OneHotMinusSoftmax(float[] row, int token, double scale)
    {
        var logp = LanguageModelling.LogSoftmax(row);
        var g = new float[row.Length];
        for (int v = 0; v < g.Length; v++) g[v] = (float)(scale * ((v == token ? 1 : 0) - Math.Exp(logp[v])));
        return g;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;

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
}

/// <summary>
/// A scalar read off the last <see cref="Rows"/> rows of a run's logits [1, T, V], with its gradient with respect
/// to those rows: everything patching, attribution patching and ablation need from a metric. Any function of the
/// logits can be one (<see cref="AnswerMetric(string, string, int, Func{float[][], double}, Func{float[][], float[][]})"/>);
/// the built-in ones are <see cref="LogitDiff"/>, <see cref="LogProb"/>, <see cref="Prob"/> and <see cref="Kl"/>.
/// </summary>
/// <param name="name">As JSON writes it ("logit_diff").</param>
/// <param name="unit">What its values are in ("logits", "nats", "probability").</param>
/// <param name="rows">How many last positions it reads: 1, or a teacher-forced answer's token count.</param>
/// <param name="value">The metric from the last <paramref name="rows"/> logit rows, first to last.</param>
/// <param name="gradient">∂metric/∂logits for the same rows (same shapes).</param>
public sealed class AnswerMetric(string name, string unit, int rows, Func<float[][], double> value, Func<float[][], float[][]> gradient)
{
    public string Name { get; } = name;
    public string Unit { get; } = unit;
    public int Rows { get; } = rows >= 1 ? rows : throw new ArgumentOutOfRangeException(nameof(rows), rows, "a metric reads at least one row");

    /// <summary>Whether a forward may compute the logits of the last position only.</summary>
    public bool LastPositionOnly => Rows == 1;

    /// <summary>The metric of the last <see cref="Rows"/> logit rows.</summary>
    public double Value(float[][] rows) => value(rows);

    /// <summary>∂metric/∂logits for the same rows.</summary>
    public float[][] Gradient(float[][] rows) => gradient(rows);

    public double FromLogits(Tensor logits) => value(LastRows(logits, Rows));

    /// <summary>Back-propagates the metric from a taped single sequence's logits [1, T, V].</summary>
    public void Backward(Tape tape, Tensor logits)
    {
        var grad = gradient(LastRows(logits, Rows));
        var seed = Tensor.Zeros(logits.Shape.ToArray());
        int v = logits.Dim(-1), first = logits.Size - Rows * v;
        for (int r = 0; r < Rows; r++) grad[r].CopyTo(seed.Span.Slice(first + r * v, v));
        tape.Backward(logits, seed);
    }

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
    public static AnswerMetric LogProb(IReadOnlyList<int> answer) => new("logprob", "nats", answer.Count,
        r => SequenceLogProb(r, answer),
        r => r.Select((row, i) => OneHotMinusSoftmax(row, answer[i], 1)).ToArray());

    /// <summary>Π p(answer[i] | …): the whole answer's probability under teacher forcing.</summary>
    public static AnswerMetric Prob(IReadOnlyList<int> answer) => new("prob", "probability", answer.Count,
        r => Math.Exp(SequenceLogProb(r, answer)),
        r =>
        {
            double p = Math.Exp(SequenceLogProb(r, answer));
            return r.Select((row, i) => OneHotMinusSoftmax(row, answer[i], p)).ToArray();
        });

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

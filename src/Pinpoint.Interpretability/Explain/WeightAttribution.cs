using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

public enum WeightVectorKind { Row, Column }

/// <summary>One row or column of a <see cref="WeightMatrix"/> (TransformerLens orientation), with what its index means.</summary>
/// <param name="Note">What the index stands for where it means something (a token, a position, a neuron); null otherwise.</param>
public sealed record WeightVector(string Matrix, WeightVectorKind Kind, int Index, WeightAxis Axis, string? Note)
{
    public string Name => $"{Matrix} {(Kind == WeightVectorKind.Row ? "row" : "column")} {Index}{(Note is null ? "" : $" ({Note})")}";

    public override string ToString() => Name;
}

/// <summary>Change in the target−foil logit difference when a weight vector is zeroed: estimated (first order) and measured.</summary>
public sealed record WeightEffect(WeightVector Vector, double Estimate, double Actual);

/// <summary>The weight vectors with the largest |estimate|, each verified by zeroing it.</summary>
/// <param name="Spearman">Rank correlation of estimated and measured changes over <paramref name="Verified"/>.</param>
public sealed record WeightRanking(IReadOnlyList<WeightEffect> Verified, double Spearman);

/// <param name="Scored">How many weight vectors were scored (every row and column of every weight matrix).</param>
/// <param name="All">Ranked across every matrix.</param>
/// <param name="InBlocks">
/// Ranked across the blocks' matrices only (attention and MLP): the target's and foil's own embedding and unembedding
/// vectors lead the overall ranking of any prompt, and would hide which weights inside the model decide it.
/// </param>
public sealed record WeightAttributionResult(double LogitDiff, int Scored, WeightRanking All, WeightRanking InBlocks);

/// <summary>
/// Which weights: one backward pass of the logit difference on the clean prompt gives ∂diff/∂W for every weight
/// matrix; zeroing a row or column v changes the difference by about −Σ_v grad·weight (gradient × weight). Every row
/// and column of every matrix is scored, the largest |estimates| are verified by zeroing each one in a copy of the
/// weights and running the model again. Exact where the difference is linear in the vector (e.g. an unembedding
/// column of a token that is not in the prompt).
/// </summary>
public static class WeightAttribution
{
    /// <param name="tokenLabel">How a token id is shown in a vector's note.</param>
    public static WeightAttributionResult Run(HookedTransformer model, int[] ids, AnswerMetric metric, int top, Func<int, string> tokenLabel)
    {
        // F32 copies that can take gradients (loaded weights may be memory-mapped bf16) and can be zeroed without touching the model.
        var copy = new HookedTransformer(model.Config, model.Weights.Copy(requiresGrad: true));
        var tape = new Tape();
        var logits = copy.Forward(new Compute(tape), TokenBatch.Single(ids), lastPositionOnly: metric.LastPositionOnly);
        metric.Backward(tape, logits);
        double diff = metric.FromLogits(logits);

        var scored = Score(copy, tokenLabel);
        var measured = new Dictionary<WeightVector, double>();
        WeightRanking Verify(IEnumerable<Scored> candidates)
        {
            var verified = candidates.OrderByDescending(s => Math.Abs(s.Estimate)).Take(top).Select(s =>
            {
                if (!measured.TryGetValue(s.Effect.Vector, out var actual))
                    measured[s.Effect.Vector] = actual = Zeroed(copy, s.Matrix, s.Effect.Vector, ids, metric) - diff;
                return s.Effect with { Actual = actual };
            }).ToList();
            return new WeightRanking(verified, Statistics.Spearman(verified.Select(v => v.Estimate).ToList(), verified.Select(v => v.Actual).ToList()));
        }
        return new WeightAttributionResult(diff, scored.Count, Verify(scored), Verify(scored.Where(s => s.Matrix.Layer >= 0)));
    }

    private sealed record Scored(WeightMatrix Matrix, WeightEffect Effect)
    {
        public double Estimate => Effect.Estimate;
    }

    /// <summary>−Σ grad·weight over every row and every column of every weight matrix of a model whose weights hold gradients.</summary>
    private static List<Scored> Score(HookedTransformer model, Func<int, string> tokenLabel)
    {
        var c = model.Config;
        var w = model.Weights;
        bool tied = ReferenceEquals(w.Unembed.Weight, w.Embedding);
        var scored = new List<Scored>();
        foreach (var m in WeightMatrices.All(c, w))
        {
            var rows = new double[m.Rows];
            var columns = new double[m.Columns];
            // A matrix the difference does not depend on gets no gradient: every estimate is zero.
            if (m.Weight.Grad is { } grad)
            {
                var values = m.ToArray();
                var g = m.Window(grad).ToArray();
                for (int r = 0; r < m.Rows; r++)
                    for (int col = 0; col < m.Columns; col++)
                    {
                        double product = (double)g[r * m.Columns + col] * values[r * m.Columns + col];
                        rows[r] += product;
                        columns[col] += product;
                    }
            }
            void Add(WeightVectorKind kind, double[] sums, WeightAxis axis)
            {
                for (int i = 0; i < sums.Length; i++)
                    scored.Add(new Scored(m, new WeightEffect(new WeightVector(m.Name, kind, i, axis, Note(m, kind, axis, i, tied && ReferenceEquals(m.Weight, w.Embedding), tokenLabel)), -sums[i], double.NaN)));
            }
            Add(WeightVectorKind.Row, rows, m.RowAxis);
            Add(WeightVectorKind.Column, columns, m.ColumnAxis);
        }
        return scored;
    }

    private static string? Note(WeightMatrix m, WeightVectorKind kind, WeightAxis axis, int index, bool tiedEmbedding, Func<int, string> tokenLabel) => axis switch
    {
        WeightAxis.Token when tiedEmbedding => $"token {tokenLabel(index)}, embedding and tied unembedding",
        WeightAxis.Token => $"token {tokenLabel(index)}",
        WeightAxis.Position => $"position {index}",
        WeightAxis.Neuron => $"neuron L{m.Layer}N{index} {(kind == WeightVectorKind.Row ? "output" : "input")}",
        _ => null,
    };

    /// <summary>The logit difference with <paramref name="vector"/> zeroed; the weights are restored afterwards.</summary>
    private static double Zeroed(HookedTransformer model, WeightMatrix matrix, WeightVector vector, int[] ids, AnswerMetric metric)
    {
        var view = matrix.Window(matrix.Weight).Select(vector.Kind == WeightVectorKind.Row ? 0 : 1, vector.Index);
        var saved = view.ToArray();
        Fill(view, new float[saved.Length]);
        try
        {
            return metric.FromLogits(model.Forward(Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: metric.LastPositionOnly));
        }
        finally
        {
            Fill(view, saved);
        }
    }

    /// <summary>Writes <paramref name="values"/> through a (possibly strided) one-dimensional F32 view.</summary>
    private static void Fill(Tensor view, float[] values)
    {
        for (int i = 0; i < values.Length; i++) view[i] = values[i];
    }
}

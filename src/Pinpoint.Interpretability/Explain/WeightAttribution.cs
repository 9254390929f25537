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
/// and column of every matrix is scored, the largest |estimates| are verified by zeroing each one in an f32 copy of
/// its matrix alone and running the model again. Exact where the difference is linear in the vector (e.g. an
/// unembedding column of a token that is not in the prompt).
/// </summary>
/// <remarks>
/// Memory stays near the model's own: the weights take gradients as views of their storage (quantized or
/// memory-mapped weights stay so), each matrix's gradient is kept as the factors of its uses (rank ≤ the prompt's
/// tokens, <see cref="FactoredGradient"/>) and scored block by block, and only the matrix being verified is copied.
/// </remarks>
public static class WeightAttribution
{
    /// <summary>Floats of weight (and as many of gradient) held at once while scoring a matrix.</summary>
    private const int ScoreBlockFloats = 1 << 22;

    /// <param name="tokenLabel">How a token id is shown in a vector's note.</param>
    public static WeightAttributionResult Run(HookedTransformer model, TokenBatch ids, AnswerMetric metric, int top, Func<int, string> tokenLabel)
    {
        // Views of the model's weights that take gradients, without copying them.
        var graded = new HookedTransformer(model.Config, model.Weights.Map(t => new Tensor(t.Storage, t.Offset, t.Shape.ToArray(), t.Strides.ToArray()) { RequiresGrad = true }));
        var tape = new Tape();
        foreach (var m in WeightMatrices.All(graded.Config, graded.Weights)) tape.FactorGradientOf(m.Weight);
        var logits = graded.Forward(new Compute(tape), ids, lastPositionOnly: metric.LastPositionOnly);
        metric.Backward(tape, logits);
        double diff = metric.FromLogits(logits);

        var scored = Score(graded, tape, tokenLabel);
        var measured = new Dictionary<WeightVector, double>();
        WeightRanking Verify(IEnumerable<Scored> candidates)
        {
            var chosen = candidates.OrderByDescending(s => Math.Abs(s.Estimate)).Take(top).ToList();
            // One matrix copy at a time, for all of its chosen vectors.
            foreach (var matrixGroup in chosen.Where(s => !measured.ContainsKey(s.Effect.Vector)).GroupBy(s => s.Matrix.Weight, ReferenceEqualityComparer.Instance))
            {
                var stored = (Tensor)matrixGroup.Key!;
                // A residual dimension of the token embedding is zeroed where it is used, by hooks: no copy of the table
                // (in f32 the same products with the same zero terms).
                foreach (var s in matrixGroup.Where(s => s.Matrix.Name == EmbeddingName && s.Effect.Vector.Kind == WeightVectorKind.Column))
                    measured[s.Effect.Vector] = EmbeddingDimensionZeroed(graded, s.Effect.Vector.Index, ids, metric) - diff;
                var group = matrixGroup.Where(s => !measured.ContainsKey(s.Effect.Vector)).ToList();
                if (group.Count == 0) continue;
                if (stored.DType.IsQuantized() && group.All(s => WholeBlocks(s.Matrix, s.Effect.Vector) is not null))
                {
                    // Vectors that are whole blocks of storage (a token's embedding row, a neuron's input row) are zeroed
                    // in a copy of the blocks themselves: no f32 copy (1 GB for a 1B model's embedding), and the copy
                    // unzeroed is the model itself, so the baseline is the clean difference.
                    var blocks = new BlockCopy(stored);
                    var quantized = new HookedTransformer(graded.Config, graded.Weights.Map(t => ReferenceEquals(t, stored) ? blocks.Tensor : t));
                    foreach (var s in group)
                        if (!measured.ContainsKey(s.Effect.Vector))
                            measured[s.Effect.Vector] = blocks.Zeroed(WholeBlocks(s.Matrix, s.Effect.Vector)!.Value, () => Forward(quantized, ids, metric)) - diff;
                    continue;
                }
                var copy = stored.DType == DType.F32 ? stored.Clone() : stored.ToFloat32();
                var variant = new HookedTransformer(graded.Config, graded.Weights.Map(t => ReferenceEquals(t, stored) ? copy : t));
                // A quantized matrix in f32 changes the kernels' rounding (8-bit activations at m = 1): measure against the copy unzeroed.
                double baseline = stored.DType == DType.F32 ? diff : Forward(variant, ids, metric);
                foreach (var s in group)
                    if (!measured.ContainsKey(s.Effect.Vector))
                        measured[s.Effect.Vector] = Zeroed(variant, s.Matrix with { Weight = copy }, s.Effect.Vector, ids, metric) - baseline;
            }
            var verified = chosen.Select(s => s.Effect with { Actual = measured[s.Effect.Vector] }).ToList();
            return new WeightRanking(verified, Statistics.Spearman(verified.Select(v => v.Estimate).ToList(), verified.Select(v => v.Actual).ToList()));
        }
        return new WeightAttributionResult(diff, scored.Count, Verify(scored), Verify(scored.Where(s => s.Matrix.Layer >= 0)));
    }

    /// <summary>The weight and gradient blocks <see cref="GradientTimesWeight"/> fills, grown to the largest block seen.</summary>
    private sealed class ScoreBuffers
    {
        private float[] _values = [], _gradient = [];

        public (float[] Values, float[] Gradient) Take(int floats)
        {
            if (_values.Length < floats) (_values, _gradient) = (new float[floats], new float[floats]);
            return (_values, _gradient);
        }
    }

    private sealed record Scored(WeightMatrix Matrix, WeightEffect Effect)
    {
        public double Estimate => Effect.Estimate;
    }

    /// <summary>−Σ grad·weight over every row and every column of every weight matrix, from the factored gradients on <paramref name="tape"/>.</summary>
    private static List<Scored> Score(HookedTransformer model, Tape tape, Func<int, string> tokenLabel)
    {
        var c = model.Config;
        var w = model.Weights;
        bool tied = ReferenceEquals(w.Unembed.Weight, w.Embedding);
        var scored = new List<Scored>();
        // One weight and one gradient block for every matrix: a new pair per block would leave gigabytes of large-object
        // garbage on a 1B model (its 1.2G weights read in 4M blocks) before the collector gets to it.
        var buffers = new ScoreBuffers();
        foreach (var m in WeightMatrices.All(c, w))
        {
            var (rows, columns) = GradientTimesWeight(m, tape.FactorsOf(m.Weight)!, buffers);
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

    /// <summary>
    /// Σ grad·weight over each row and each column of <paramref name="m"/>'s window, read block by block of stored rows
    /// (weights dequantized, gradient from its factors), so neither is ever whole in f32.
    /// </summary>
    private static (double[] Rows, double[] Columns) GradientTimesWeight(WeightMatrix m, FactoredGradient gradient, ScoreBuffers buffers)
    {
        var rows = new double[m.Rows];
        var columns = new double[m.Columns];
        // A matrix the difference does not depend on gets no gradient: every estimate is zero.
        if (gradient.IsEmpty) return (rows, columns);
        // The window in stored coordinates: [out, in] when OutIn (window rows are stored columns), else as the window.
        var (row0, rowCount, column0, columnCount) = m.OutIn ? (m.OutStart, m.Columns, m.InStart, m.Rows) : (m.InStart, m.Rows, m.OutStart, m.Columns);
        var (storedRowSums, storedColumnSums) = m.OutIn ? (columns, rows) : (rows, columns);
        int chunk = Math.Max(1, ScoreBlockFloats / columnCount);
        var (values, grad) = buffers.Take(Math.Min(chunk, rowCount) * columnCount);
        for (int r0 = 0; r0 < rowCount; r0 += chunk)
        {
            int n = Math.Min(chunk, rowCount - r0);
            m.Weight.Slice(0, row0 + r0, n).Slice(1, column0, columnCount).CopyTo(values.AsSpan(0, n * columnCount));
            gradient.Block(row0 + r0, n, column0, columnCount, grad);
            for (int r = 0; r < n; r++)
            {
                double rowSum = 0;
                for (int col = 0; col < columnCount; col++)
                {
                    double product = (double)grad[r * columnCount + col] * values[r * columnCount + col];
                    rowSum += product;
                    storedColumnSums[col] += product;
                }
                storedRowSums[r0 + r] += rowSum;
            }
        }
        return (rows, columns);
    }

    private static string? Note(WeightMatrix m, WeightVectorKind kind, WeightAxis axis, int index, bool tiedEmbedding, Func<int, string> tokenLabel) => axis switch
    {
        WeightAxis.Token when tiedEmbedding => $"token {tokenLabel(index)}, embedding and tied unembedding",
        WeightAxis.Token => $"token {tokenLabel(index)}",
        WeightAxis.Position => $"position {index}",
        WeightAxis.Neuron => $"neuron L{m.Layer}N{index} {(kind == WeightVectorKind.Row ? "output" : "input")}",
        _ => null,
    };

    private static double Forward(HookedTransformer model, TokenBatch ids, AnswerMetric metric) =>
        metric.FromLogits(model.Forward(Compute.Eager, ids, lastPositionOnly: metric.LastPositionOnly));

    private const string EmbeddingName = "embed.W_E";

    /// <summary>
    /// The logit difference with column <paramref name="dimension"/> of W_E zeroed: that dimension of every looked-up
    /// embedding, and — when the unembedding is W_E itself — of the final normalized residual the logits are read from.
    /// </summary>
    private static double EmbeddingDimensionZeroed(HookedTransformer model, int dimension, TokenBatch ids, AnswerMetric metric)
    {
        int width = model.Config.DModel;
        Tensor ZeroDimension(Tensor activation, string _)
        {
            var copy = activation.Contiguous().Clone();
            var values = copy.Span;
            for (int i = dimension; i < values.Length; i += width) values[i] = 0;
            return copy;
        }
        var hooks = new List<(string, HookFunction)> { (HookNames.Embed, ZeroDimension) };
        if (ReferenceEquals(model.Weights.Unembed.Weight, model.Weights.Embedding)) hooks.Add((HookNames.FinalNormalized, ZeroDimension));
        return metric.FromLogits(model.RunWithHooks(ids, hooks, lastPositionOnly: metric.LastPositionOnly));
    }

    /// <summary>The logit difference with <paramref name="vector"/> zeroed (in <paramref name="matrix"/>'s f32 weight); it is restored afterwards.</summary>
    private static double Zeroed(HookedTransformer model, WeightMatrix matrix, WeightVector vector, TokenBatch ids, AnswerMetric metric)
    {
        var view = matrix.Window(matrix.Weight).Select(vector.Kind == WeightVectorKind.Row ? 0 : 1, vector.Index);
        var saved = view.ToArray();
        Fill(view, new float[saved.Length]);
        try
        {
            return Forward(model, ids, metric);
        }
        finally
        {
            Fill(view, saved);
        }
    }

    /// <summary>The storage blocks [first, first + count) that hold exactly <paramref name="vector"/>, or null when it is not whole contiguous blocks.</summary>
    private static (int First, int Count)? WholeBlocks(WeightMatrix matrix, WeightVector vector)
    {
        var view = matrix.Window(matrix.Weight).Select(vector.Kind == WeightVectorKind.Row ? 0 : 1, vector.Index);
        int block = matrix.Weight.DType.BlockElements(), length = view.Dim(0);
        return view.Strides[0] == 1 && view.Offset % block == 0 && length % block == 0 ? (view.Offset / block, length / block) : null;
    }

    /// <summary>A quantized weight copied block for block into pinned memory this class may write.</summary>
    private sealed unsafe class BlockCopy
    {
        private readonly byte[] _bytes;
        private readonly int _blockBytes;

        public Tensor Tensor { get; }

        public BlockCopy(Tensor stored)
        {
            var source = stored.Storage.AsBytes();
            _bytes = GC.AllocateUninitializedArray<byte>(source.Length + 1, pinned: true);
            source.CopyTo(_bytes);
            _blockBytes = stored.DType.BlockBytes();
            fixed (byte* p = _bytes)
                Tensor = new Tensor(new Storage(p, stored.Storage.Length, stored.DType, _bytes), stored.Offset, stored.Shape.ToArray(), stored.Strides.ToArray());
        }

        /// <summary>Runs <paramref name="measure"/> with the blocks set to all-zero bytes (scale 0: every value exactly 0), then restores them.</summary>
        public double Zeroed((int First, int Count) blocks, Func<double> measure)
        {
            var range = _bytes.AsSpan(blocks.First * _blockBytes, blocks.Count * _blockBytes);
            var saved = range.ToArray();
            range.Clear();
            try
            {
                return measure();
            }
            finally
            {
                saved.CopyTo(range);
            }
        }
    }

    /// <summary>Writes <paramref name="values"/> through a (possibly strided) one-dimensional F32 view.</summary>
    private static void Fill(Tensor view, float[] values)
    {
        for (int i = 0; i < values.Length; i++) view[i] = values[i];
    }
}

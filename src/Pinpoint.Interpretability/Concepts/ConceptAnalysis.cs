using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Concepts;

public sealed record ConceptOptions
{
    public int Folds { get; init; } = 5;
    public int Seed { get; init; }
    public int BatchSize { get; init; } = 16;
    /// <summary>Shuffled-label directions for the weight-alignment null.</summary>
    public int Shuffles { get; init; } = 20;
    /// <summary>Random directions of the same norm for the causal test's null.</summary>
    public int RandomDirections { get; init; } = 8;
    /// <summary>Neurons and weight vectors listed per class.</summary>
    public int Top { get; init; } = 5;
    /// <summary>The token whose logit the causal test reads for each class (default: the first token of " " + class name).</summary>
    public int[]? ClassTokens { get; init; }
}

/// <summary>A concept direction per hook: mass-mean held-out accuracy over all classes and, per class, the held-out AUC of projecting onto its direction.</summary>
public sealed record DirectionLayer(string Hook, double Accuracy, double[] Auc);

/// <summary>
/// Adding the class direction at the last token of every item: the mean change of (class token's logit − mean of the
/// other classes' tokens' logits), beside the same for random directions of the same norm (mean and sd over draws).
/// </summary>
public sealed record CausalEffect(string Hook, string Token, int TokenId, double DirectionNorm, double Effect, double RandomMean, double RandomSd);

/// <param name="TopNeurons">Across every MLP hook_post, by |class mean − rest mean| on all items.</param>
/// <param name="Sparse">k-sparse vs dense held-out F1 at the MLP hook of the top neuron.</param>
/// <param name="Weights">The weight vectors most aligned with the class direction at the best hook, per kind.</param>
public sealed record ClassConcept(string Class, RankedNeuron[] TopNeurons, SparseCurve Sparse, AlignedVector[] Weights, AlignmentStatistic[] Alignment, CausalEffect Causal);

/// <summary>Projecting the class directions (from the training folds) out at <see cref="Hook"/> at every position, then held-out mass-mean accuracy at <see cref="DownstreamHook"/>.</summary>
public sealed record AblationResult(string Hook, string DownstreamHook, int Dimensions, double AccuracyBefore, double AccuracyAfter, double RandomSubspaceAfter);

/// <summary>The result of <see cref="ConceptAnalysis.Run"/>; <c>pinpoint concepts --json</c> writes it as it is.</summary>
public sealed record ConceptReport(string Dataset, int Items, string[] Classes, int Folds, DirectionLayer[] Layers, string BestHook, ClassConcept[] PerClass, AblationResult Ablation);

/// <summary>
/// Is a labelled set of texts "grouped by concept" in the model, and where: a direction per layer, how many
/// neurons carry it, whether weight vectors align with it more than with shuffled-label directions, and whether
/// the model uses it (adding it moves the class's token; projecting it out removes downstream readability).
/// Everything is read at the last token of each text.
/// </summary>
public static class ConceptAnalysis
{
    public static ConceptReport Run(LoadedModel loaded, ProbeDataset dataset, ConceptOptions options, Action<string, int, int>? progress = null,
        CancellationToken cancellation = default)
    {
        if (dataset.IsRegression) throw new InvalidDataException($"{dataset.Path}: concepts needs class labels, not numeric values");
        var model = loaded.Model;
        var c = model.Config;
        var residual = Activations.HookSelection.ResidualStream(c);
        var mlpHooks = c.AttentionOnly ? [] : Enumerable.Range(0, c.NLayers).Select(HookNames.MlpPost).ToList();
        var hooks = residual.Concat(mlpHooks).ToList();
        var features = Prober.LastTokenFeatures(loaded, dataset, hooks, options.BatchSize, progress, cancellation);
        var labels = dataset.Labels;
        int classes = dataset.Classes.Length;
        var targets = labels.Select(l => (double)l).ToArray();
        var folds = CrossValidation.GroupedFolds(dataset.Texts, targets, options.Folds, options.Seed);
        var massMean = new ProbeEvaluator(ProbeMethod.MassMean, classes, folds, dataset.Texts, options.Seed);

        var layers = residual.Select((hook, h) => Direction(hook, features[h], labels, classes, folds, massMean, targets)).ToArray();
        int best = Array.IndexOf(layers, layers.MaxBy(l => l.Accuracy));
        string bestHook = residual[best];
        var x = features[best];
        var directions = Prober.ClassDirections(x, labels, classes);
        int d = x.Columns;

        var classTokens = options.ClassTokens ?? dataset.Classes.Select(name => loaded.Tokenizer.Encode(" " + name, addBos: false)[0]).ToArray();
        if (classTokens.Length != classes) throw new ArgumentException($"{classTokens.Length} class tokens for {classes} classes");
        var sequences = Prober.Encode(loaded, dataset);
        var clean = CausalTest.LastLogits(model, sequences, bestHook, null, options.BatchSize);
        var alignment = new WeightAlignment(model);
        var shuffledMax = ShuffledAlignment(alignment, x, dataset, classes, options, cancellation);

        var perClass = new ClassConcept[classes];
        for (int k = 0; k < classes; k++)
        {
            cancellation.ThrowIfCancellationRequested();
            var direction = directions.AsSpan(k * d, d).ToArray();
            var neurons = mlpHooks.SelectMany((hook, m) =>
            {
                var diff = SparseProbing.MeanDifferences(features[residual.Count + m], labels, k, Enumerable.Range(0, labels.Length).ToList());
                return SparseProbing.TopColumns(diff, options.Top).Select(n => new RankedNeuron(hook, n, diff[n]));
            }).OrderByDescending(n => Math.Abs(n.MeanDifference)).Take(options.Top).ToArray();
            int top = neurons.Length == 0 ? -1 : mlpHooks.IndexOf(neurons[0].Hook);
            var sparse = top < 0 ? new SparseCurve("", [], [], double.NaN) : SparseProbing.Curve(mlpHooks[top], features[residual.Count + top], labels, k, folds);
            var observed = alignment.MaxAbsCosine(direction);
            var stats = WeightAlignment.Kinds.Select((kind, i) =>
            {
                var nulls = shuffledMax.Select(s => s[k][i]).ToArray();
                double mean = nulls.Length == 0 ? double.NaN : nulls.Average();
                double sd = nulls.Length < 2 ? double.NaN : Math.Sqrt(nulls.Sum(v => (v - mean) * (v - mean)) / (nulls.Length - 1));
                return new AlignmentStatistic(kind, observed[i], mean, sd, (1 + nulls.Count(v => v >= observed[i])) / (double)(nulls.Length + 1));
            }).ToArray();
            var weights = alignment.Top(direction, options.Top, id => loaded.Tokenizer.Decode([id])).ToArray();
            var causal = Causal(model, sequences, bestHook, direction, clean, classTokens, k, options, loaded.Tokenizer.Decode([classTokens[k]]));
            perClass[k] = new ClassConcept(dataset.Classes[k], neurons, sparse, weights, stats, causal);
            progress?.Invoke("classes", k + 1, classes);
        }

        var ablation = Ablate(loaded, dataset, bestHook, residual[^1], x, classes, features[residual.Count - 1], massMean, targets, folds, options, cancellation);
        return new ConceptReport(dataset.Path, dataset.Items.Count, dataset.Classes, options.Folds, layers, bestHook, perClass, ablation);
    }

    private static DirectionLayer Direction(string hook, FeatureMatrix x, int[] labels, int classes, int[] folds, ProbeEvaluator massMean, double[] targets)
    {
        var (predictions, _) = massMean.Predict(x, targets);
        double accuracy = massMean.FoldScores(predictions, targets).Average();
        int d = x.Columns, foldCount = folds.Max() + 1;
        var auc = new double[classes];
        for (int f = 0; f < foldCount; f++)
        {
            var (train, test) = CrossValidation.Split(folds, f);
            var directions = Prober.ClassDirections(x.Select(train), train.Select(i => labels[i]).ToArray(), classes);
            for (int k = 0; k < classes; k++)
            {
                var dir = directions.AsSpan(k * d, d).ToArray();
                var scores = test.Select(i => TensorPrimitives.Dot(x.Row(i), dir)).ToArray();
                auc[k] += Auc(scores, test.Select(i => labels[i] == k).ToArray()) / foldCount;
            }
        }
        return new DirectionLayer(hook, accuracy, auc);
    }

    /// <summary>Probability that a random positive scores above a random negative (ties count half); NaN without both.</summary>
    public static double Auc(double[] scores, bool[] positive)
    {
        var ranks = Explain.Statistics.Ranks(scores);
        int nPos = positive.Count(p => p), nNeg = positive.Length - nPos;
        if (nPos == 0 || nNeg == 0) return double.NaN;
        double rankSum = Enumerable.Range(0, scores.Length).Where(i => positive[i]).Sum(i => ranks[i]);
        return (rankSum - nPos * (nPos + 1) / 2.0) / ((double)nPos * nNeg);
    }

    /// <summary>Per shuffle, per class: the largest |cosine| of each weight kind with the direction from shuffled labels.</summary>
    private static List<double[][]> ShuffledAlignment(WeightAlignment alignment, FeatureMatrix x, ProbeDataset dataset, int classes, ConceptOptions options, CancellationToken cancellation)
    {
        var groups = Enumerable.Range(0, dataset.Items.Count).GroupBy(i => dataset.Items[i].Text, StringComparer.Ordinal).Select(g => g.ToArray()).ToArray();
        var rng = new Random(options.Seed + 29);
        var result = new List<double[][]>();
        int d = x.Columns;
        for (int s = 0; s < options.Shuffles; s++)
        {
            cancellation.ThrowIfCancellationRequested();
            var groupLabels = groups.Select(g => dataset.Labels[g[0]]).ToArray();
            rng.Shuffle(groupLabels);
            var shuffled = new int[dataset.Items.Count];
            for (int g = 0; g < groups.Length; g++)
                foreach (var i in groups[g]) shuffled[i] = groupLabels[g];
            var directions = Prober.ClassDirections(x, shuffled, classes);
            result.Add(Enumerable.Range(0, classes).Select(k => alignment.MaxAbsCosine(directions.AsSpan(k * d, d))).ToArray());
        }
        return result;
    }

    private static CausalEffect Causal(HookedTransformer model, List<int[]> sequences, string hook, double[] direction, float[][] clean, int[] classTokens,
        int k, ConceptOptions options, string tokenText)
    {
        double Effect(float[][] logits)
        {
            double sum = 0;
            for (int i = 0; i < logits.Length; i++)
            {
                double Margin(float[] l) => l[classTokens[k]] - classTokens.Where((_, o) => o != k).Average(t => (double)l[t]);
                sum += Margin(logits[i]) - Margin(clean[i]);
            }
            return sum / logits.Length;
        }
        double norm = TensorPrimitives.Norm(direction);
        double effect = Effect(CausalTest.LastLogits(model, sequences, hook, direction, options.BatchSize));
        var rng = new Random(options.Seed + 53 + k);
        var random = Enumerable.Range(0, options.RandomDirections)
            .Select(_ => Effect(CausalTest.LastLogits(model, sequences, hook, CausalTest.RandomDirection(direction.Length, norm, rng), options.BatchSize))).ToArray();
        double mean = random.Length == 0 ? double.NaN : random.Average();
        double sd = random.Length < 2 ? double.NaN : Math.Sqrt(random.Sum(v => (v - mean) * (v - mean)) / (random.Length - 1));
        return new CausalEffect(hook, tokenText, classTokens[k], norm, effect, mean, sd);
    }

    /// <summary>
    /// Per outer fold: the class directions from the training items only are projected out at <paramref name="hook"/>
    /// (every position) in a run over every item, and a mass-mean probe fitted on the training items' downstream
    /// activations is scored on the held-out ones — so no held-out item shapes the subspace removed from it. The same
    /// with random subspaces of the same dimension is the control.
    /// </summary>
    private static AblationResult Ablate(LoadedModel loaded, ProbeDataset dataset, string hook, string downstream, FeatureMatrix atHook, int classes,
        FeatureMatrix before, ProbeEvaluator massMean, double[] targets, int[] folds, ConceptOptions options, CancellationToken cancellation)
    {
        const int randomDraws = 3;
        int d = atHook.Columns, foldCount = folds.Max() + 1, dimensions = 0;
        var labels = dataset.Labels;
        var rng = new Random(options.Seed + 71);
        var after = new double[labels.Length];
        var randomAfter = new double[labels.Length];
        for (int f = 0; f < foldCount; f++)
        {
            var (train, test) = CrossValidation.Split(folds, f);
            var directions = Prober.ClassDirections(atHook.Select(train), train.Select(i => labels[i]).ToArray(), classes);
            var basis = CausalTest.Orthonormalize(Enumerable.Range(0, classes).Select(k => directions.AsSpan(k * d, d).ToArray()));
            dimensions = basis.Count;
            Score(basis, train, test, after, 1);
            for (int r = 0; r < randomDraws; r++)
                Score(CausalTest.Orthonormalize(basis.Select(_ => CausalTest.RandomDirection(d, 1, rng))), train, test, randomAfter, 1.0 / randomDraws);
        }
        double accuracyBefore = massMean.FoldScores(massMean.Predict(before, targets).Predictions, targets).Average();
        double Mean(double[] correct) => Enumerable.Range(0, foldCount).Average(f => CrossValidation.Split(folds, f).Test.Average(i => correct[i]));
        return new AblationResult(hook, downstream, dimensions, accuracyBefore, Mean(after), Mean(randomAfter));

        void Score(IReadOnlyList<double[]> basis, int[] train, int[] test, double[] correct, double weight)
        {
            var x = Prober.LastTokenFeatures(loaded, dataset, [downstream], options.BatchSize, null, cancellation, [(hook, CausalTest.ProjectOut(basis))])[0];
            var xTrain = x.Select(train);
            var std = new Standardizer(xTrain);
            var probe = ProbeFits.MassMean(std.Apply(xTrain), train.Select(i => labels[i]).ToArray(), classes).Unstandardize(std);
            foreach (var i in test) correct[i] += probe.Classify(x.Row(i)) == labels[i] ? weight : 0;
        }
    }
}

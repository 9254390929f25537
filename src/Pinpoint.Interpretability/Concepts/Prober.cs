using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Concepts;

public sealed record ProbeOptions
{
    public ProbeMethod Method { get; init; } = ProbeMethod.Logistic;
    public int Folds { get; init; } = 5;
    public int Permutations { get; init; } = 100;
    public int Seed { get; init; }
    public int BatchSize { get; init; } = 16;
}

/// <summary>One hook's held-out probe scores. Fields for classes or values are null where they do not apply.</summary>
/// <param name="Baseline">Majority class of the training folds (accuracy), or the training mean (R²), scored like the probe.</param>
/// <param name="ControlAccuracy">Hewitt &amp; Liang's control task: each distinct final word gets a fixed random class.</param>
/// <param name="PValue">Share of label permutations (plus the true labels) scoring at least the true mean.</param>
/// <param name="ControlR2">Values only: held-out R² of the same probe fitted to the values shuffled among the texts (Gurnee &amp; Tegmark's control).</param>
/// <param name="ProximityError">Values only (Gurnee &amp; Tegmark): per item, the share of other items whose true value is closer to its true value
/// than its held-out prediction is, averaged over items; 0 is perfect, about 0.5 is chance.</param>
public sealed record ProbeLayer(string Hook, FoldInterval? Accuracy, FoldInterval? R2, FoldInterval? Spearman, double Baseline,
    double? ControlAccuracy, double? Selectivity, double PValue, double? ControlR2 = null, double? ProximityError = null);

public sealed record ProbeBest(string Hook, FoldInterval? Accuracy, FoldInterval? R2, double? Selectivity);

/// <summary>The result of <see cref="Prober.Run"/>; <c>pinpoint probe --json</c> writes it as it is.</summary>
public sealed record ProbeReport(string Dataset, int Items, string Method, string[]? Classes, int Folds, int Permutations, ProbeLayer[] Layers,
    ProbeBest Best, string? ProbeFile)
{
    /// <summary>The best hook's probe fitted on every item (saved by <see cref="ProbeFile"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public SavedProbe? Fitted { get; init; }
}

/// <summary>
/// Linear probes at the last token of each text, at every requested hook: held-out accuracy (or R² and Spearman)
/// over grouped folds with a 95% interval, the majority baseline, the control task and selectivity, and a
/// permutation p-value (the permuted runs reuse each fold's penalty chosen on the true labels).
/// </summary>
public static class Prober
{
    /// <param name="progress">(phase, done, total) after each hook or batch.</param>
    public static ProbeReport Run(LoadedModel model, ProbeDataset dataset, IReadOnlyList<string> hooks, ProbeOptions options,
        Action<string, int, int>? progress = null, CancellationToken cancellation = default)
    {
        var features = LastTokenFeatures(model, dataset, hooks, options.BatchSize, progress, cancellation);
        var texts = dataset.Texts;
        bool regression = dataset.IsRegression;
        if (regression && options.Method != ProbeMethod.Ridge)
            throw new ArgumentException($"{dataset.Path}: numeric \"value\" items need --method ridge");
        var targets = regression ? dataset.Values : dataset.Labels.Select(l => (double)l).ToArray();
        var folds = CrossValidation.GroupedFolds(texts, targets, options.Folds, options.Seed);
        int classes = regression ? 0 : dataset.Classes.Length;
        var evaluator = new ProbeEvaluator(options.Method, classes, folds, texts, options.Seed);
        var control = regression ? PermutedTargets(texts, targets, 1, options.Seed + 31)[0] : ControlLabels(texts, classes, options.Seed);
        var permutations = PermutedTargets(texts, targets, options.Permutations, options.Seed);

        var layers = new ProbeLayer[hooks.Count];
        int done = 0;
        Parallel.For(0, hooks.Count, new ParallelOptions { CancellationToken = cancellation }, h =>
        {
            var x = features[h];
            var (predictions, penalties) = evaluator.Predict(x, targets);
            var scores = evaluator.FoldScores(predictions, targets);
            double baseline = Baseline(folds, targets, regression, evaluator);
            var (controlPredictions, _) = evaluator.Predict(x, control);
            double controlScore = evaluator.FoldScores(controlPredictions, control).Average();
            double? controlAccuracy = regression ? null : controlScore;
            double observed = scores.Average();
            int atLeast = 1;
            foreach (var permuted in permutations)
            {
                cancellation.ThrowIfCancellationRequested();
                var (p, _) = evaluator.Predict(x, permuted, penalties);
                if (evaluator.FoldScores(p, permuted).Average() >= observed) atLeast++;
            }
            var interval = FoldInterval.Of(scores);
            FoldInterval? spearman = regression ? FoldInterval.Of(SpearmanPerFold(folds, predictions, targets)) : null;
            layers[h] = new ProbeLayer(hooks[h], regression ? null : interval, regression ? interval : null, spearman, baseline,
                controlAccuracy, controlAccuracy is null ? null : interval.Mean - controlAccuracy, atLeast / (double)(permutations.Count + 1),
                regression ? controlScore : null, regression ? ProximityError(predictions, targets) : null);
            progress?.Invoke("probes", Interlocked.Increment(ref done), hooks.Count);
        });

        var best = layers.MaxBy(l => (l.Accuracy ?? l.R2)!.Value.Mean)!;
        int bestIndex = Array.IndexOf(layers, best);
        var probe = evaluator.FitAll(features[bestIndex], targets);
        var directions = regression ? probe.Weights : ClassDirections(features[bestIndex], dataset.Labels, classes);
        var fitted = new SavedProbe(best.Hook, CommandName(options.Method), dataset.Classes, probe, directions, model.Path);
        return new ProbeReport(dataset.Path, dataset.Items.Count, CommandName(options.Method), regression ? null : dataset.Classes, options.Folds,
            permutations.Count, layers, new ProbeBest(best.Hook, best.Accuracy, best.R2, best.Selectivity), null) { Fitted = fitted };
    }

    public static string CommandName(ProbeMethod method) => method switch
    {
        ProbeMethod.MassMean => "mass-mean",
        _ => method.ToString().ToLowerInvariant(),
    };

    /// <summary>Activations at the last token of every item, one matrix per hook; a text over the context names its FILE:LINE.</summary>
    public static FeatureMatrix[] LastTokenFeatures(LoadedModel model, ProbeDataset dataset, IReadOnlyList<string> hooks, int batchSize,
        Action<string, int, int>? progress, CancellationToken cancellation, IReadOnlyList<(string HookName, HookFunction Function)>? interventions = null)
    {
        var sequences = Encode(model, dataset).Select((ids, i) => new HarvestSequence(ids, i)).ToList();
        var harvester = new ActivationHarvester(model.Model, hooks, HarvestPositions.Last, batchSize, interventions);
        var values = hooks.Select(_ => new List<float>()).ToArray();
        var widths = new int[hooks.Count];
        harvester.Run(sequences, batch =>
        {
            for (int h = 0; h < hooks.Count; h++)
            {
                widths[h] = batch.Widths[h];
                values[h].AddRange(batch.Values(h));
            }
        }, new Progress(p => progress?.Invoke("activations", (int)p.Sequences, sequences.Count)), cancellation);
        return Enumerable.Range(0, hooks.Count).Select(h => FeatureMatrix.FromFloats([.. values[h]], sequences.Count, widths[h])).ToArray();
    }

    /// <summary>Token ids of every item with the model's BOS rule; an empty text or one over the context names its FILE:LINE.</summary>
    public static List<int[]> Encode(LoadedModel model, ProbeDataset dataset)
    {
        bool bos = model.Model.Config.AddBos && model.Tokenizer.Bos is not null;
        var encoded = new List<int[]>(dataset.Items.Count);
        foreach (var item in dataset.Items)
        {
            var ids = model.Tokenizer.Encode(item.Text, bos);
            if (ids.Length == 0) throw new InvalidDataException($"{dataset.Path}:{item.Line}: the text encodes to no tokens");
            if (ids.Length > model.Model.Config.ContextLength)
                throw new InvalidDataException($"{dataset.Path}:{item.Line}: the text is {ids.Length} tokens long; the model's context is {model.Model.Config.ContextLength}");
            encoded.Add(ids);
        }
        return encoded;
    }

    /// <summary>Per class: its mean minus the mean of the other classes' means, on raw features ([classes, width]).</summary>
    public static double[] ClassDirections(FeatureMatrix x, int[] labels, int classes)
    {
        var means = ProbeFits.ClassMeans(x, labels, classes);
        int d = x.Columns;
        var directions = new double[classes * d];
        for (int c = 0; c < classes; c++)
            for (int o = 0; o < classes; o++)
            {
                double sign = o == c ? 1 : -1.0 / (classes - 1);
                TensorPrimitives.MultiplyAdd(means.AsSpan(o * d, d), sign, directions.AsSpan(c * d, d), directions.AsSpan(c * d, d));
            }
        return directions;
    }

    /// <summary>Hewitt &amp; Liang: every distinct final word gets one random class (seeded), whatever its items' labels.</summary>
    public static double[] ControlLabels(IReadOnlyList<string> texts, int classes, int seed)
    {
        var rng = new Random(seed + 101);
        var byWord = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var w in texts.Select(ProbeDataset.FinalWord).Distinct().Order(StringComparer.Ordinal)) byWord[w] = rng.Next(classes);
        return texts.Select(t => (double)byWord[ProbeDataset.FinalWord(t)]).ToArray();
    }

    /// <summary>Gurnee &amp; Tegmark's proximity error: per item the share of the other items whose true value lies closer to its true value than its prediction does, averaged.</summary>
    public static double ProximityError(IReadOnlyList<double> predictions, IReadOnlyList<double> targets)
    {
        int n = targets.Count;
        if (n < 2) return double.NaN;
        var sorted = targets.Order().ToArray();
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double miss = Math.Abs(predictions[i] - targets[i]);
            // Items strictly within the miss of the true value, less the item itself.
            int lower = LowerBound(sorted, targets[i] - miss, inclusive: false), upper = LowerBound(sorted, targets[i] + miss, inclusive: true);
            sum += Math.Max(0, upper - lower - 1) / (double)(n - 1);
        }
        return sum / n;
    }

    /// <summary>Index of the first value above <paramref name="bound"/> (or at or above it when not <paramref name="inclusive"/>).</summary>
    private static int LowerBound(double[] sorted, double bound, bool inclusive)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (inclusive ? sorted[mid] < bound : sorted[mid] <= bound) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Targets shuffled among groups of identical texts (so duplicates keep one label), seeded.</summary>
    private static List<double[]> PermutedTargets(IReadOnlyList<string> texts, double[] targets, int count, int seed)
    {
        var groups = Enumerable.Range(0, texts.Count).GroupBy(i => texts[i], StringComparer.Ordinal).Select(g => g.ToArray()).ToArray();
        var rng = new Random(seed + 7);
        var result = new List<double[]>(count);
        for (int p = 0; p < count; p++)
        {
            var groupTargets = groups.Select(g => targets[g[0]]).ToArray();
            rng.Shuffle(groupTargets);
            var permuted = new double[targets.Length];
            for (int g = 0; g < groups.Length; g++)
                foreach (var i in groups[g]) permuted[i] = groupTargets[g];
            result.Add(permuted);
        }
        return result;
    }

    private static double Baseline(int[] folds, double[] targets, bool regression, ProbeEvaluator evaluator)
    {
        var predictions = new double[targets.Length];
        for (int f = 0; f <= folds.Max(); f++)
        {
            var (train, test) = CrossValidation.Split(folds, f);
            double guess = regression
                ? train.Average(i => targets[i])
                : train.GroupBy(i => targets[i]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
            foreach (var i in test) predictions[i] = guess;
        }
        return regression
            ? Enumerable.Range(0, folds.Max() + 1).Select(f =>
            {
                var test = CrossValidation.Split(folds, f).Test;
                return CrossValidation.RSquared(test.Select(i => predictions[i]).ToList(), test.Select(i => targets[i]).ToList());
            }).Average()
            : evaluator.FoldScores(predictions, targets).Average();
    }

    private static double[] SpearmanPerFold(int[] folds, double[] predictions, double[] targets) =>
        Enumerable.Range(0, folds.Max() + 1).Select(f =>
        {
            var test = CrossValidation.Split(folds, f).Test;
            return CrossValidation.Spearman(test.Select(i => predictions[i]).ToList(), test.Select(i => targets[i]).ToList());
        }).ToArray();

    private sealed class Progress(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}

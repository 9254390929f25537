using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>A mean over folds with the half-width of its 95% interval (Student t with folds − 1 degrees of freedom).</summary>
public readonly record struct FoldInterval(double Mean, double Ci95)
{
    public static FoldInterval Of(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        if (values.Count < 2) return new FoldInterval(mean, 0);
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        return new FoldInterval(mean, StudentT975(values.Count - 1) * Math.Sqrt(variance / values.Count));
    }

    /// <summary>The 97.5% quantile of Student's t (table up to 30 degrees of freedom, then the normal's 1.96).</summary>
    private static double StudentT975(int dof) => dof switch
    {
        1 => 12.706, 2 => 4.303, 3 => 3.182, 4 => 2.776, 5 => 2.571, 6 => 2.447, 7 => 2.365, 8 => 2.306, 9 => 2.262,
        10 => 2.228, <= 15 => 2.131, <= 20 => 2.086, <= 30 => 2.042, _ => 1.96,
    };
}

/// <summary>Fold assignment and held-out scoring shared by probes and concept analyses.</summary>
public static class CrossValidation
{
    /// <summary>
    /// Fold of each item: identical texts form one group and stay in one fold; groups are shuffled (seeded), ordered
    /// by <paramref name="strata"/> (a label, or a value so folds span its range) and dealt round-robin, so every
    /// fold gets a share of each class.
    /// </summary>
    public static int[] GroupedFolds(IReadOnlyList<string> texts, IReadOnlyList<double> strata, int folds, int seed)
    {
        var groups = Enumerable.Range(0, texts.Count).GroupBy(i => texts[i], StringComparer.Ordinal).Select(g => g.ToArray()).ToArray();
        if (groups.Length < folds) throw new ArgumentException($"{groups.Length} distinct texts, fewer than {folds} folds");
        new Random(seed).Shuffle(groups);
        var ordered = groups.OrderBy(g => strata[g[0]]).ToArray();
        var fold = new int[texts.Count];
        int offset = new Random(seed + 1).Next(folds);
        for (int g = 0; g < ordered.Length; g++)
            foreach (var i in ordered[g]) fold[i] = (g + offset) % folds;
        return fold;
    }

    public static (int[] Train, int[] Test) Split(int[] folds, int fold) =>
        (Enumerable.Range(0, folds.Length).Where(i => folds[i] != fold).ToArray(), Enumerable.Range(0, folds.Length).Where(i => folds[i] == fold).ToArray());

    public static double Accuracy(IReadOnlyList<int> predicted, IReadOnlyList<int> actual) =>
        predicted.Count == 0 ? double.NaN : Enumerable.Range(0, predicted.Count).Count(i => predicted[i] == actual[i]) / (double)predicted.Count;

    /// <summary>Coefficient of determination against the held-out mean (as scikit-learn's r2_score).</summary>
    public static double RSquared(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        double mean = actual.Average(), residual = 0, total = 0;
        for (int i = 0; i < actual.Count; i++)
        {
            residual += (actual[i] - predicted[i]) * (actual[i] - predicted[i]);
            total += (actual[i] - mean) * (actual[i] - mean);
        }
        return total == 0 ? double.NaN : 1 - residual / total;
    }

    public static double Spearman(IReadOnlyList<double> predicted, IReadOnlyList<double> actual) => Statistics.Spearman(predicted, actual);

    /// <summary>Macro-averaged F1 over the classes present in <paramref name="actual"/>.</summary>
    public static double MacroF1(IReadOnlyList<int> predicted, IReadOnlyList<int> actual, int classes)
    {
        double sum = 0;
        int present = 0;
        for (int c = 0; c < classes; c++)
        {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < actual.Count; i++)
            {
                bool p = predicted[i] == c, a = actual[i] == c;
                if (p && a) tp++;
                else if (p) fp++;
                else if (a) fn++;
            }
            if (tp + fn == 0) continue;
            present++;
            sum += tp == 0 ? 0 : 2.0 * tp / (2 * tp + fp + fn);
        }
        return present == 0 ? double.NaN : sum / present;
    }
}

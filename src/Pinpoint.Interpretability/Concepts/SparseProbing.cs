namespace Pinpoint.Interpretability.Concepts;

/// <summary>One neuron and its class-mean difference (class minus the rest).</summary>
public sealed record RankedNeuron(string Hook, int Neuron, double MeanDifference);

/// <summary>Held-out F1 of one class (one-vs-rest) from the top-k neurons and from all of them.</summary>
public sealed record SparseCurve(string Hook, int[] K, double[] F1, double DenseF1);

/// <summary>
/// How concentrated a class is among neurons (Gurnee et al.'s sparse probing): neurons ranked by |class mean −
/// rest mean| on the training folds, and logistic one-vs-rest probes on the top k of them scored by held-out F1
/// against a probe on every neuron.
/// </summary>
public static class SparseProbing
{
    public static readonly int[] Ks = [1, 2, 4, 8, 16, 32];
    private const double Penalty = 1e-2;

    /// <summary>|mean of class c − mean of the rest| per column, over <paramref name="rows"/>.</summary>
    public static double[] MeanDifferences(FeatureMatrix x, int[] labels, int c, IReadOnlyList<int> rows)
    {
        var inClass = new double[x.Columns];
        var rest = new double[x.Columns];
        int nIn = 0, nRest = 0;
        foreach (var r in rows)
        {
            if (labels[r] == c) { TensorPrimitives.Add(inClass, x.Row(r), inClass); nIn++; }
            else { TensorPrimitives.Add(rest, x.Row(r), rest); nRest++; }
        }
        var diff = new double[x.Columns];
        for (int j = 0; j < diff.Length; j++) diff[j] = inClass[j] / Math.Max(1, nIn) - rest[j] / Math.Max(1, nRest);
        return diff;
    }

    public static int[] TopColumns(double[] differences, int k) =>
        Enumerable.Range(0, differences.Length).OrderByDescending(j => Math.Abs(differences[j])).ThenBy(j => j).Take(k).ToArray();

    public static SparseCurve Curve(string hook, FeatureMatrix x, int[] labels, int c, int[] folds)
    {
        var ks = Ks.Where(k => k < x.Columns).ToArray();
        var binary = labels.Select(l => l == c ? 1 : 0).ToArray();
        int foldCount = folds.Max() + 1;
        var f1 = new double[ks.Length];
        double dense = 0;
        for (int f = 0; f < foldCount; f++)
        {
            var (train, test) = CrossValidation.Split(folds, f);
            var order = TopColumns(MeanDifferences(x, labels, c, train), ks.Length == 0 ? 0 : ks[^1]);
            for (int i = 0; i < ks.Length; i++) f1[i] += HeldOutF1(x.SelectColumns(order[..ks[i]]), binary, train, test) / foldCount;
            dense += HeldOutF1(x, binary, train, test) / foldCount;
        }
        return new SparseCurve(hook, ks, f1, dense);
    }

    private static double HeldOutF1(FeatureMatrix x, int[] binary, int[] train, int[] test)
    {
        var xTrain = x.Select(train);
        var std = new Standardizer(xTrain);
        var probe = ProbeFits.Logistic(std.Apply(xTrain), train.Select(i => binary[i]).ToArray(), 2, Penalty).Unstandardize(std);
        var predicted = test.Select(i => probe.Classify(x.Row(i))).ToList();
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < test.Length; i++)
        {
            bool p = predicted[i] == 1, a = binary[test[i]] == 1;
            if (p && a) tp++;
            else if (p) fp++;
            else if (a) fn++;
        }
        return tp == 0 ? 0 : 2.0 * tp / (2 * tp + fp + fn);
    }
}

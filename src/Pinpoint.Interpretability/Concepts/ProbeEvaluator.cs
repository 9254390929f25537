namespace Pinpoint.Interpretability.Concepts;

/// <summary>
/// Held-out scores of one probe kind on one feature matrix under a fixed fold assignment: per outer fold the
/// features are standardized on the training part, the penalty is chosen by an inner grouped 3-fold
/// cross-validation on the training part (logistic, ridge), and the probe is scored on the held-out part.
/// </summary>
public sealed class ProbeEvaluator
{
    public const int InnerFolds = 3;
    public static readonly double[] LogisticPenalties = [1e-3, 1e-2, 1e-1, 1];
    public static readonly double[] RidgePenalties = [1, 10, 100, 1e3, 1e4];

    private readonly ProbeMethod _method;
    private readonly int _classes;
    private readonly int[] _folds;
    private readonly int _foldCount;
    private readonly IReadOnlyList<string> _texts;
    private readonly int _seed;

    /// <param name="classes">Number of classes; 0 for a regression on values.</param>
    public ProbeEvaluator(ProbeMethod method, int classes, int[] folds, IReadOnlyList<string> texts, int seed)
    {
        if (classes == 0 && method != ProbeMethod.Ridge) throw new ArgumentException($"numeric values need the ridge probe, not {method}");
        _method = method;
        _classes = classes;
        _folds = folds;
        _foldCount = folds.Max() + 1;
        _texts = texts;
        _seed = seed;
    }

    /// <summary>Held-out predictions of every item (class index or value as double), with the penalty chosen in each fold.</summary>
    public (double[] Predictions, double[] Penalties) Predict(FeatureMatrix x, IReadOnlyList<double> targets, double[]? fixedPenalties = null)
    {
        var predictions = new double[x.Rows];
        var penalties = new double[_foldCount];
        for (int f = 0; f < _foldCount; f++)
        {
            var (train, test) = CrossValidation.Split(_folds, f);
            var xTrain = x.Select(train);
            var std = new Standardizer(xTrain);
            var zTrain = std.Apply(xTrain);
            var yTrain = train.Select(i => targets[i]).ToArray();
            penalties[f] = fixedPenalties?[f] ?? ChoosePenalty(zTrain, yTrain, train.Select(i => _texts[i]).ToList());
            var probe = Fit(zTrain, yTrain, penalties[f]).Unstandardize(std);
            foreach (var i in test) predictions[i] = Output(probe, x.Row(i));
        }
        return (predictions, penalties);
    }

    /// <summary>Per-fold scores of held-out predictions: accuracy for classes, R² for values.</summary>
    public double[] FoldScores(IReadOnlyList<double> predictions, IReadOnlyList<double> targets) =>
        Enumerable.Range(0, _foldCount).Select(f =>
        {
            var test = Enumerable.Range(0, _folds.Length).Where(i => _folds[i] == f).ToList();
            return Score(test.Select(i => predictions[i]).ToList(), test.Select(i => targets[i]).ToList());
        }).ToArray();

    /// <summary>The probe fitted on all rows (penalty chosen by inner cross-validation), on raw features.</summary>
    public LinearProbe FitAll(FeatureMatrix x, IReadOnlyList<double> targets)
    {
        var std = new Standardizer(x);
        var z = std.Apply(x);
        var y = targets.ToArray();
        return Fit(z, y, ChoosePenalty(z, y, _texts)).Unstandardize(std);
    }

    public double Score(IReadOnlyList<double> predicted, IReadOnlyList<double> actual) => _classes == 0
        ? CrossValidation.RSquared(predicted, actual)
        : CrossValidation.Accuracy(predicted.Select(p => (int)p).ToList(), actual.Select(a => (int)a).ToList());

    private double Output(LinearProbe probe, ReadOnlySpan<double> x) => _classes == 0 ? probe.Score(x, 0) : probe.Classify(x);

    private LinearProbe Fit(FeatureMatrix z, double[] y, double penalty) => _method switch
    {
        ProbeMethod.MassMean => ProbeFits.MassMean(z, Labels(y), _classes),
        ProbeMethod.Logistic => ProbeFits.Logistic(z, Labels(y), _classes, penalty),
        _ => ProbeFits.Ridge(z, _classes == 0 ? [y] : ProbeFits.OneHot(Labels(y), _classes), penalty),
    };

    private double ChoosePenalty(FeatureMatrix z, double[] y, IReadOnlyList<string> texts)
    {
        var grid = _method switch { ProbeMethod.Logistic => LogisticPenalties, ProbeMethod.Ridge => RidgePenalties, _ => [0.0] };
        if (grid.Length == 1 || texts.Distinct(StringComparer.Ordinal).Count() < InnerFolds) return grid[0];
        var inner = CrossValidation.GroupedFolds(texts, y, InnerFolds, _seed + 17);
        var evaluator = new ProbeEvaluator(_method, _classes, inner, texts, _seed + 17);
        double best = double.NegativeInfinity, chosen = grid[0];
        foreach (var penalty in grid)
        {
            var (predictions, _) = evaluator.Predict(z, y, Enumerable.Repeat(penalty, InnerFolds).ToArray());
            double score = evaluator.FoldScores(predictions, y).Where(double.IsFinite).DefaultIfEmpty(double.NegativeInfinity).Average();
            if (score > best) (best, chosen) = (score, penalty);
        }
        return chosen;
    }

    private static int[] Labels(double[] y) => y.Select(v => (int)v).ToArray();
}

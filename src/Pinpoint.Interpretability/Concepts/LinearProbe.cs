namespace Pinpoint.Interpretability.Concepts;

public enum ProbeMethod
{
    /// <summary>Multinomial logistic regression with an L2 penalty chosen by inner cross-validation.</summary>
    Logistic,
    /// <summary>Nearest class mean (the difference of class means is the direction; Marks &amp; Tegmark's mass-mean probe).</summary>
    MassMean,
    /// <summary>Least squares with an L2 penalty chosen by inner cross-validation (one-hot targets for classes).</summary>
    Ridge,
}

/// <summary>A linear read-out, scores = W·x + b with W [outputs, inputs]: the argmax is the class, or output 0 the value.</summary>
public sealed class LinearProbe
{
    public LinearProbe(double[] weights, double[] bias)
    {
        if (bias.Length == 0 || weights.Length % bias.Length != 0) throw new ArgumentException($"{weights.Length} weights for {bias.Length} outputs");
        Weights = weights;
        Bias = bias;
        Inputs = weights.Length / bias.Length;
    }

    public double[] Weights { get; }
    public double[] Bias { get; }
    public int Inputs { get; }
    public int Outputs => Bias.Length;

    public ReadOnlySpan<double> WeightRow(int output) => Weights.AsSpan(output * Inputs, Inputs);

    public double Score(ReadOnlySpan<double> x, int output) => TensorPrimitives.Dot(x, WeightRow(output)) + Bias[output];

    public int Classify(ReadOnlySpan<double> x)
    {
        int best = 0;
        double bestScore = double.NegativeInfinity;
        for (int c = 0; c < Outputs; c++)
        {
            double s = Score(x, c);
            if (s > bestScore) (best, bestScore) = (c, s);
        }
        return best;
    }

    /// <summary>The same read-out on raw features, for a probe fitted on features standardized by <paramref name="s"/>.</summary>
    public LinearProbe Unstandardize(Standardizer s)
    {
        var w = new double[Weights.Length];
        var b = (double[])Bias.Clone();
        for (int o = 0; o < Outputs; o++)
            for (int j = 0; j < Inputs; j++)
            {
                double v = Weights[o * Inputs + j] / s.Scale[j];
                w[o * Inputs + j] = v;
                b[o] -= v * s.Mean[j];
            }
        return new LinearProbe(w, b);
    }
}

/// <summary>Fitting the three probe kinds on (standardized) features.</summary>
public static class ProbeFits
{
    private const int LogisticIterations = 300;
    private const double LogisticTolerance = 1e-6;

    /// <summary>
    /// Minimises mean cross-entropy + λ/2·|W|² by accelerated gradient descent (FISTA-style momentum) with step
    /// 1/L, L = ½·σ_max(X)²/n + λ bounding the Hessian; stops when the largest gradient entry is below a tolerance.
    /// </summary>
    public static LinearProbe Logistic(FeatureMatrix x, int[] labels, int classes, double lambda, LinearProbe? start = null)
    {
        int n = x.Rows, d = x.Columns;
        double step = 1 / (0.5 * LargestEigenvalueOfGram(x) / n + lambda + 1e-12);
        var w = start is null ? new double[classes * d] : (double[])start.Weights.Clone();
        var b = start is null ? new double[classes] : (double[])start.Bias.Clone();
        var wPrev = (double[])w.Clone();
        var bPrev = (double[])b.Clone();
        var yW = (double[])w.Clone();
        var yB = (double[])b.Clone();
        var gW = new double[w.Length];
        var gB = new double[classes];
        var p = new double[classes];
        double t = 1;
        for (int it = 0; it < LogisticIterations; it++)
        {
            Array.Clear(gW);
            Array.Clear(gB);
            for (int r = 0; r < n; r++)
            {
                var row = x.Row(r);
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    p[c] = TensorPrimitives.Dot(row, yW.AsSpan(c * d, d)) + yB[c];
                    max = Math.Max(max, p[c]);
                }
                double sum = 0;
                for (int c = 0; c < classes; c++) sum += p[c] = Math.Exp(p[c] - max);
                for (int c = 0; c < classes; c++)
                {
                    double g = (p[c] / sum - (labels[r] == c ? 1 : 0)) / n;
                    gB[c] += g;
                    var gRow = gW.AsSpan(c * d, d);
                    TensorPrimitives.MultiplyAdd(row, g, gRow, gRow);
                }
            }
            TensorPrimitives.MultiplyAdd(yW, lambda, gW, gW);
            double largest = Math.Max(TensorPrimitives.MaxMagnitude(gW), TensorPrimitives.MaxMagnitude(gB));
            w.CopyTo(wPrev, 0);
            b.CopyTo(bPrev, 0);
            TensorPrimitives.MultiplyAdd(gW, -step, yW, w);
            TensorPrimitives.MultiplyAdd(gB, -step, yB, b);
            if (largest < LogisticTolerance) break;
            double tNext = (1 + Math.Sqrt(1 + 4 * t * t)) / 2, momentum = (t - 1) / tNext;
            t = tNext;
            for (int i = 0; i < w.Length; i++) yW[i] = w[i] + momentum * (w[i] - wPrev[i]);
            for (int i = 0; i < b.Length; i++) yB[i] = b[i] + momentum * (b[i] - bPrev[i]);
        }
        return new LinearProbe(w, b);
    }

    /// <summary>
    /// Nearest class mean: score_c = μ_c·x − ½|μ_c|², so the argmax is the closest mean; for two classes the
    /// decision direction is μ₁ − μ₀.
    /// </summary>
    public static LinearProbe MassMean(FeatureMatrix x, int[] labels, int classes)
    {
        var means = ClassMeans(x, labels, classes);
        int d = x.Columns;
        var b = new double[classes];
        for (int c = 0; c < classes; c++) b[c] = -0.5 * TensorPrimitives.Dot(means.AsSpan(c * d, d), means.AsSpan(c * d, d));
        return new LinearProbe(means, b);
    }

    /// <summary>Per-class mean rows, [classes, columns]; a class without rows has mean 0.</summary>
    public static double[] ClassMeans(FeatureMatrix x, int[] labels, int classes)
    {
        int d = x.Columns;
        var means = new double[classes * d];
        var counts = new int[classes];
        for (int r = 0; r < x.Rows; r++)
        {
            counts[labels[r]]++;
            var m = means.AsSpan(labels[r] * d, d);
            TensorPrimitives.Add(m, x.Row(r), m);
        }
        for (int c = 0; c < classes; c++)
            if (counts[c] > 0) TensorPrimitives.Divide(means.AsSpan(c * d, d), counts[c], means.AsSpan(c * d, d));
        return means;
    }

    /// <summary>
    /// Ridge regression of each target column on x (centred: the bias is the targets' mean), solved in whichever of
    /// the primal (d×d) or dual (n×n) form is smaller by Cholesky.
    /// </summary>
    public static LinearProbe Ridge(FeatureMatrix x, double[][] targets, double alpha)
    {
        int n = x.Rows, d = x.Columns, k = targets.Length;
        var colMean = new double[d];
        for (int r = 0; r < n; r++) TensorPrimitives.Add(colMean, x.Row(r), colMean);
        TensorPrimitives.Divide(colMean, Math.Max(1, n), colMean);
        var xc = new FeatureMatrix(n, d);
        for (int r = 0; r < n; r++) TensorPrimitives.Subtract(x.Row(r), colMean, xc.Row(r));
        var means = targets.Select(t => t.Average()).ToArray();
        var w = new double[k * d];
        var b = new double[k];
        if (d <= n)
        {
            var a = new double[d * d];
            for (int r = 0; r < n; r++)
            {
                var row = xc.Row(r);
                for (int i = 0; i < d; i++)
                    if (row[i] != 0) TensorPrimitives.MultiplyAdd(row, row[i], a.AsSpan(i * d, d), a.AsSpan(i * d, d));
            }
            for (int i = 0; i < d; i++) a[i * d + i] += alpha;
            Cholesky(a, d);
            for (int o = 0; o < k; o++)
            {
                var rhs = new double[d];
                for (int r = 0; r < n; r++) TensorPrimitives.MultiplyAdd(xc.Row(r), targets[o][r] - means[o], rhs, rhs);
                CholeskySolve(a, d, rhs);
                rhs.CopyTo(w, o * d);
            }
        }
        else
        {
            var gram = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++)
                    gram[i * n + j] = gram[j * n + i] = TensorPrimitives.Dot(xc.Row(i), xc.Row(j));
            for (int i = 0; i < n; i++) gram[i * n + i] += alpha;
            Cholesky(gram, n);
            for (int o = 0; o < k; o++)
            {
                var dual = new double[n];
                for (int r = 0; r < n; r++) dual[r] = targets[o][r] - means[o];
                CholeskySolve(gram, n, dual);
                var wo = w.AsSpan(o * d, d);
                for (int r = 0; r < n; r++) TensorPrimitives.MultiplyAdd(xc.Row(r), dual[r], wo, wo);
            }
        }
        for (int o = 0; o < k; o++) b[o] = means[o] - TensorPrimitives.Dot(w.AsSpan(o * d, d), colMean);
        return new LinearProbe(w, b);
    }

    /// <summary>One-hot columns of class labels, for ridge classification.</summary>
    public static double[][] OneHot(int[] labels, int classes) =>
        Enumerable.Range(0, classes).Select(c => labels.Select(l => l == c ? 1.0 : 0.0).ToArray()).ToArray();

    /// <summary>σ_max(X)² by power iteration on XᵀX (30 steps; an over-estimate is safe for a step size, so it is padded by 5%).</summary>
    private static double LargestEigenvalueOfGram(FeatureMatrix x)
    {
        int d = x.Columns;
        var v = new double[d];
        v.AsSpan().Fill(1 / Math.Sqrt(d));
        var next = new double[d];
        double lambda = 0;
        for (int it = 0; it < 30; it++)
        {
            Array.Clear(next);
            for (int r = 0; r < x.Rows; r++)
            {
                var row = x.Row(r);
                TensorPrimitives.MultiplyAdd(row, TensorPrimitives.Dot(row, v), next, next);
            }
            lambda = TensorPrimitives.Norm(next);
            if (lambda == 0) return 0;
            TensorPrimitives.Divide(next, lambda, v);
        }
        return lambda * 1.05;
    }

    /// <summary>In-place lower Cholesky factor of a symmetric positive definite matrix.</summary>
    private static void Cholesky(double[] a, int n)
    {
        for (int j = 0; j < n; j++)
        {
            double diag = a[j * n + j] - TensorPrimitives.Dot(a.AsSpan(j * n, j), a.AsSpan(j * n, j));
            if (diag <= 0) throw new InvalidOperationException("ridge system is not positive definite");
            double l = Math.Sqrt(diag);
            a[j * n + j] = l;
            for (int i = j + 1; i < n; i++)
                a[i * n + j] = (a[i * n + j] - TensorPrimitives.Dot(a.AsSpan(i * n, j), a.AsSpan(j * n, j))) / l;
        }
    }

    /// <summary>Solves L·Lᵀ·x = b in place with the factor from <see cref="Cholesky"/>.</summary>
    private static void CholeskySolve(double[] l, int n, double[] b)
    {
        for (int i = 0; i < n; i++) b[i] = (b[i] - TensorPrimitives.Dot(l.AsSpan(i * n, i), b.AsSpan(0, i))) / l[i * n + i];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = b[i];
            for (int k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
            b[i] = s / l[i * n + i];
        }
    }
}

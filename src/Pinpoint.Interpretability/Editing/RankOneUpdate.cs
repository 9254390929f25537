using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

/// <summary>
/// ROME's closed-form rank-one update of a linear associative memory y = k·W (W [in, out]): with u = C⁻¹k̄ (k̄ the
/// key averaged over contexts), W' = W + u ⊗ (v* − k·W) / (u·k). Then k·W' = v* exactly, and any key k' with
/// k'·C⁻¹k̄ = 0 maps as before.
/// </summary>
public static class RankOneUpdate
{
    /// <summary>Adds u ⊗ residual / (u·key) to the weight of <paramref name="linear"/> (F32, either layout) and returns u·key.</summary>
    /// <param name="residual">v* − k*·W: what the memory must add for the key (the bias, if any, cancels out).</param>
    /// <param name="cInverseKey">u = C⁻¹k*; k* itself when C = I.</param>
    public static double Apply(Linear linear, double[] key, double[] cInverseKey, double[] residual)
    {
        int n = linear.InFeatures, m = linear.OutFeatures;
        if (key.Length != n || cInverseKey.Length != n || residual.Length != m)
            throw new ArgumentException($"a rank-one update of a {n} → {m} map needs keys of {n} and values of {m}");
        double denominator = 0;
        for (int i = 0; i < n; i++) denominator += cInverseKey[i] * key[i];
        if (!(Math.Abs(denominator) > 0)) throw new ArgumentException("the key has no component along u (u·k = 0): the update cannot reach it");
        AddOuterProducts(linear, [cInverseKey.Select(x => x / denominator).ToArray()], [residual]);
        return denominator;
    }

    /// <summary>W += Σᵢ leftᵢ ⊗ rightᵢ for the weight of <paramref name="linear"/> (F32, either layout): leftᵢ has the input's width, rightᵢ the output's.</summary>
    public static void AddOuterProducts(Linear linear, IReadOnlyList<double[]> left, IReadOnlyList<double[]> right)
    {
        int n = linear.InFeatures, m = linear.OutFeatures;
        if (left.Count != right.Count || left.Any(l => l.Length != n) || right.Any(r => r.Length != m))
            throw new ArgumentException($"an update of a {n} → {m} map needs pairs of {n}- and {m}-wide vectors");
        var w = linear.Weight.Span;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double sum = 0;
                for (int p = 0; p < left.Count; p++) sum += left[p][i] * right[p][j];
                w[linear.OutIn ? j * n + i : i * m + j] += (float)sum;
            }
    }

    /// <summary>k·W (without bias) in double, for either layout.</summary>
    public static double[] Map(Linear linear, double[] key)
    {
        int n = linear.InFeatures, m = linear.OutFeatures;
        var w = linear.Weight.Contiguous().ToArray();
        var y = new double[m];
        for (int i = 0; i < n; i++)
        {
            if (key[i] == 0) continue;
            for (int j = 0; j < m; j++) y[j] += key[i] * w[linear.OutIn ? j * n + i : i * m + j];
        }
        return y;
    }

    /// <summary>Solves A x = b for a symmetric positive definite A (Cholesky, in place on a copy).</summary>
    public static double[] SolveSpd(double[,] a, double[] b) => SolveWithFactor(Cholesky(a), b);

    /// <summary>Solves L·Lᵀ x = b by forward and back substitution, for a Cholesky factor L.</summary>
    public static double[] SolveWithFactor(double[,] l, double[] b)
    {
        int n = b.Length;
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i, k] * y[k];
            y[i] = s / l[i, i];
        }
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = y[i];
            for (int k = i + 1; k < n; k++) s -= l[k, i] * x[k];
            x[i] = s / l[i, i];
        }
        return x;
    }

    /// <summary>Lower-triangular L with A = L·Lᵀ; throws when A is not positive definite.</summary>
    public static double[,] Cholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            double diag = a[j, j];
            for (int k = 0; k < j; k++) diag -= l[j, k] * l[j, k];
            if (!(diag > 0)) throw new ArgumentException($"the key covariance is not positive definite (pivot {j}: {diag:G3}); use more tokens or C = I");
            l[j, j] = Math.Sqrt(diag);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = s / l[j, j];
            }
        }
        return l;
    }
}

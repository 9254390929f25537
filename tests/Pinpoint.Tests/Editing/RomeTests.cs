using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Editing;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Editing;

public class RomeTests
{
    /// <summary>
    /// A planted linear associative memory y = k·W with a random SPD covariance C: the rank-one update must store
    /// k* → v* exactly and leave every key C⁻¹-orthogonal to k* where it was.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RankOneUpdateStoresTheNewValueAndLeavesCInverseOrthogonalKeys(bool outIn)
    {
        const int n = 12, m = 7;
        var rng = new Random(outIn ? 1 : 2);
        double R() => rng.NextDouble() * 2 - 1;
        var weight = Tensor.FromArray(Enumerable.Range(0, n * m).Select(_ => (float)R()).ToArray(), outIn ? [m, n] : [n, m]);
        var memory = new Linear(weight, outIn);
        var a = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i, j] = R();
        var c = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                for (int k = 0; k < n; k++) c[i, j] += a[i, k] * a[j, k];
                if (i == j) c[i, j] += 0.5;
            }
        var key = Enumerable.Range(0, n).Select(_ => R()).ToArray();
        var value = Enumerable.Range(0, m).Select(_ => 3 * R()).ToArray();
        var u = RankOneUpdate.SolveSpd(c, key);
        // Other keys: random ones with their component along k* (in the C⁻¹ inner product) removed.
        var others = Enumerable.Range(0, 5).Select(_ =>
        {
            var k = Enumerable.Range(0, n).Select(_ => R()).ToArray();
            double along = k.Zip(u).Sum(p => p.First * p.Second) / key.Zip(u).Sum(p => p.First * p.Second);
            return k.Select((x, i) => x - along * key[i]).ToArray();
        }).ToList();
        var othersBefore = others.Select(k => RankOneUpdate.Map(memory, k)).ToList();
        var residual = RankOneUpdate.Map(memory, key).Select((y, j) => value[j] - y).ToArray();

        RankOneUpdate.Apply(memory, key, u, residual);

        var stored = RankOneUpdate.Map(memory, key);
        for (int j = 0; j < m; j++) Assert.Equal(value[j], stored[j], 4);
        for (int o = 0; o < others.Count; o++)
        {
            var after = RankOneUpdate.Map(memory, others[o]);
            for (int j = 0; j < m; j++) Assert.Equal(othersBefore[o][j], after[j], 4);
        }
    }

    /// <summary>
    /// MEMIT's batch update on a planted linear associative memory: as λ → 0 every key of the batch maps to its new value
    /// (least squares with room to spare: fewer keys than inputs), and keys whose C⁻¹-products with all batch keys vanish
    /// map as before whatever λ is.
    /// </summary>
    [Theory]
    [InlineData(1e-7, true)]
    [InlineData(10, false)]
    public void MemitUpdateStoresABatchAsLambdaVanishesAndLeavesCInverseOrthogonalKeys(double lambda, bool exact)
    {
        const int n = 16, m = 6, batch = 4;
        var rng = new Random(3);
        double R() => rng.NextDouble() * 2 - 1;
        var memory = new Linear(Tensor.FromArray(Enumerable.Range(0, n * m).Select(_ => (float)R()).ToArray(), [n, m]), false);
        var a = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i, j] = R();
        var c = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                for (int k = 0; k < n; k++) c[i, j] += a[i, k] * a[j, k];
                if (i == j) c[i, j] += 0.5;
            }
        var keys = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, n).Select(_ => R()).ToArray()).ToArray();
        var values = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, m).Select(_ => 3 * R()).ToArray()).ToArray();
        // Other keys: C·x for random x with Kᵀx = 0 (x projected off the span of the batch keys), so Kᵀ·C⁻¹k = 0.
        var others = Enumerable.Range(0, 5).Select(_ =>
        {
            var x = Enumerable.Range(0, n).Select(_ => R()).ToArray();
            var gram = new double[batch, batch];
            for (int p = 0; p < batch; p++) for (int q = 0; q < batch; q++) gram[p, q] = keys[p].Zip(keys[q]).Sum(t => t.First * t.Second);
            var coefficients = RankOneUpdate.SolveSpd(gram, keys.Select(k => k.Zip(x).Sum(t => t.First * t.Second)).ToArray());
            for (int p = 0; p < batch; p++) for (int i = 0; i < n; i++) x[i] -= coefficients[p] * keys[p][i];
            return Enumerable.Range(0, n).Select(i => Enumerable.Range(0, n).Sum(j => c[i, j] * x[j])).ToArray();
        }).ToList();
        var othersBefore = others.Select(k => RankOneUpdate.Map(memory, k)).ToList();
        var residuals = keys.Select((k, p) => RankOneUpdate.Map(memory, k).Select((y, j) => values[p][j] - y).ToArray()).ToArray();

        MemitEditor.UpdateLayer(memory, keys, residuals, c, lambda);

        double worst = keys.Select((k, p) => RankOneUpdate.Map(memory, k).Select((y, j) => Math.Abs(y - values[p][j])).Max()).Max();
        if (exact) Assert.True(worst < 1e-3, $"largest miss {worst}");
        else Assert.True(worst > 0.1, $"λ = {lambda} should trade the new values against C, yet the largest miss is {worst}");
        for (int o = 0; o < others.Count; o++)
        {
            var after = RankOneUpdate.Map(memory, others[o]);
            for (int j = 0; j < m; j++) Assert.Equal(othersBefore[o][j], after[j], 3);
        }
    }

    /// <summary>
    /// One key asked for two values with weights 3 and 1 (two facts of one subject-first subject): as λ → 0 the weighted
    /// least squares stores their weighted mean, (3r₁ + r₂) / 4; unweighted, the plain mean.
    /// </summary>
    [Theory]
    [InlineData(3.0, 1.0)]
    [InlineData(1.0, 1.0)]
    public void MemitUpdateStoresTheWeightedMeanOfConflictingResiduals(double first, double second)
    {
        var memory = new Linear(Tensor.Zeros(3, 2), false);
        double[] key = [1, 2, -1];
        double[][] residuals = [[4, 0], [0, 8]];
        var identity = new double[3, 3];
        for (int i = 0; i < 3; i++) identity[i, i] = 1;
        MemitEditor.UpdateLayer(memory, [key, key], residuals, identity, 1e-9, [first, second]);
        var stored = RankOneUpdate.Map(memory, key);
        Assert.Equal((first * 4 + second * 0) / (first + second), stored[0], 4);
        Assert.Equal((first * 0 + second * 8) / (first + second), stored[1], 4);
    }

    /// <summary>C over windows of two tokens is the mean of kkᵀ over the keys of each two-token forward pass, computed one by one.</summary>
    [Fact]
    public void KeyCovarianceOverShortWindowsIsTheMeanOfEachWindowsKeys()
    {
        using var loaded = ModelLoader.Load(Path.Combine(SharedData.RepoRoot, "models", "default"));
        var model = loaded.Model;
        int[] tokens = [.. loaded.Encode("Lily had a pet frog")];
        var c = KeyCovariance.Estimate(model, [1], tokens, window: 2)[1];
        int width = model.Config.DMlp;
        var expected = new double[width, width];
        for (int start = 0; start < tokens.Length; start += 2)
        {
            var ids = tokens[start..Math.Min(start + 2, tokens.Length)];
            var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), name => name == HookNames.MlpPost(1));
            var keys = cache[HookNames.MlpPost(1)].Contiguous().ToArray();
            for (int p = 0; p < ids.Length; p++)
                for (int i = 0; i < width; i++)
                    for (int j = 0; j < width; j++) expected[i, j] += (double)keys[p * width + i] * keys[p * width + j] / tokens.Length;
        }
        double worst = 0, scale = 0;
        for (int i = 0; i < width; i++)
            for (int j = 0; j < width; j++) (worst, scale) = (Math.Max(worst, Math.Abs(c[i, j] - expected[i, j])), Math.Max(scale, Math.Abs(expected[i, j])));
        Assert.True(worst <= 1e-5 * scale, $"max |ΔC| {worst} against max |C| {scale}");
        Assert.Throws<ArgumentException>(() => KeyCovariance.Estimate(model, [1], tokens, window: model.Config.ContextLength + 1));
    }
    [Fact]
    public void CholeskySolvesAndRefusesAnIndefiniteMatrix()
    {
        var x = RankOneUpdate.SolveSpd(new double[,] { { 4, 2 }, { 2, 3 } }, [2, 1]);
        Assert.Equal(0.5, x[0], 9);
        Assert.Equal(0, x[1], 9);
        Assert.Throws<ArgumentException>(() => RankOneUpdate.Cholesky(new double[,] { { 1, 2 }, { 2, 1 } }));
    }

    [Fact]
    public void RomeEditOfTheEmbeddedModelMakesTheNewTargetWin()
    {
        using var loaded = ModelLoader.Load(Path.Combine(SharedData.RepoRoot, "models", "default"));
        var item = new EditItem(new EditRequest("Lily", "{} had a pet", " frog", "test"), ["{} has a pet"], ["Tom had a pet"]);
        var report = EditEvaluation.Run(loaded, [item], new EditEvaluationOptions { Layer = 2, GenerationTokens = 8 });
        var r = Assert.Single(report.ItemResults);
        Assert.True(r.Efficacy, $"P(new) − P(true) = {r.Magnitude}");
        // The optimisation's own record: δ within its clamp and steps within the budget.
        Assert.InRange(r.DeltaOverValue, 1e-6, new RomeOptions().ClampNorm + 1e-6);
        Assert.InRange(r.OptimisationSteps, 1, new RomeOptions().Steps);
        // Fresh-copy mode: the edited copy's layer is restored after the item, and the loaded model never changes.
        var before = Pinpoint.Interpretability.Evaluation.LanguageModelling.LastLogProbs(loaded.Model, loaded.Encode("Lily had a pet"));
        var after = Pinpoint.Interpretability.Evaluation.LanguageModelling.LastLogProbs(report.Edited, loaded.Encode("Lily had a pet"));
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) < 1e-4, $"token {i}: {before[i]} vs {after[i]}");
    }

    [Fact]
    public void MemitMovesEachItemOfABatchTowardsItsNewTarget()
    {
        using var loaded = ModelLoader.Load(Path.Combine(SharedData.RepoRoot, "models", "default"));
        EditItem Item(string subject, string prompt, string target) => new(new EditRequest(subject, prompt, target, "test"), [], ["Tom had a pet"]);
        // Lily has two facts: her key is the same in both prompts, so one δ must serve both.
        var report = EditEvaluation.Run(loaded, [Item("Lily", "{} had a pet", " frog"), Item("Sam", "{} had a pet", " turtle"), Item("Lily", "{}'s best friend was a", " bear")],
            new EditEvaluationOptions { Memit = new MemitOptions { Layers = [0, 1] }, GenerationTokens = 8 });
        Assert.Equal("memit", report.Method);
        Assert.Equal([0, 1], report.Layers);
        // C = I and the default λ: the new target must gain, the old one lose.
        Assert.All(report.ItemResults, r => Assert.True(r.NewAfter > 2 * r.NewBefore && r.TrueAfter < r.TrueBefore,
            $"{r.Subject}: P(new) {r.NewBefore} → {r.NewAfter}, P(true) {r.TrueBefore} → {r.TrueAfter}"));
    }

    /// <summary>ROME's key averages the templates' keys with their NLL shares: half on the bare prompt here, and the plain mean at equal shares.</summary>
    [Fact]
    public void WeightedKeyUsesTheTemplatesNllShares()
    {
        using var loaded = ModelLoader.Load(Path.Combine(SharedData.RepoRoot, "models", "default"));
        var half = new EditPrompts(loaded, loaded.Model, new RomeOptions { ContextPrefixes = 3, PrefixTokens = 2, PromptWeight = 0.5 });
        Assert.Equal(4, half.Templates.Count);
        double[][] keys = [[6, 0], [0, 3], [0, 6], [3, 3]];
        AssertClose([3.5, 2.0], half.WeightedKey(keys));
        var equal = new EditPrompts(loaded, loaded.Model, new RomeOptions { ContextPrefixes = 3, PrefixTokens = 2, PromptWeight = 0.25 });
        AssertClose([2.25, 3.0], equal.WeightedKey(keys));
        static void AssertClose(double[] expected, double[] actual) => Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 12));
    }

    [Fact]
    public void NGramEntropyAndHarmonicMean()
    {
        Assert.Equal(0, EditEvaluation.NGramEntropy(["a", "a", "a", "a"], 2), 9);
        Assert.Equal(2, EditEvaluation.NGramEntropy(["a", "b", "c", "d", "e"], 2), 9);
        Assert.Equal(0.5, EditEvaluation.HarmonicMean(1, 1.0 / 3), 9);
        Assert.Equal(0, EditEvaluation.HarmonicMean(1, 0, 1), 9);
        Assert.Equal(1, EditEvaluation.HarmonicMean(1, double.NaN), 9);
    }
}

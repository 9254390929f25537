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
        // Fresh-copy mode: the edited copy's layer is restored after the item, and the loaded model never changes.
        var before = Pinpoint.Interpretability.Evaluation.LanguageModelling.LastLogProbs(loaded.Model, loaded.Encode("Lily had a pet"));
        var after = Pinpoint.Interpretability.Evaluation.LanguageModelling.LastLogProbs(report.Edited, loaded.Encode("Lily had a pet"));
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) < 1e-4, $"token {i}: {before[i]} vs {after[i]}");
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

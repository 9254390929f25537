using Pinpoint.Interpretability.Concepts;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Concepts;

public sealed class ProbeTests
{
    private static readonly string[] Hooks = [HookNames.Embed, HookNames.ResidPost(0)];

    [Theory]
    [InlineData(ProbeMethod.Logistic)]
    [InlineData(ProbeMethod.MassMean)]
    [InlineData(ProbeMethod.Ridge)]
    public void PlantedDirectionIsReadAndRecoveredWhileTheControlTaskStaysAtChance(ProbeMethod method)
    {
        using var planted = new PlantedConceptModel();
        var dataset = ProbeDataset.Read(planted.WriteDataset(), 5);
        Assert.True(dataset.Items.Count >= 60, $"{dataset.Items.Count} items");
        var report = Prober.Run(planted.Model, dataset, Hooks, new ProbeOptions { Method = method, Permutations = 19 }, cancellation: TestContext.Current.CancellationToken);

        Assert.All(report.Layers, l =>
        {
            Assert.True(l.Accuracy!.Value.Mean >= 0.95, $"{l.Hook}: accuracy {l.Accuracy.Value.Mean}");
            Assert.InRange(l.ControlAccuracy!.Value, 0.3, 0.7);
            Assert.InRange(l.Baseline, 0.3, 0.7);
            Assert.Equal(1 / 20.0, l.PValue, 9);
            Assert.True(l.Selectivity > 0.25);
        });
        var fitted = report.Fitted!;
        Assert.Equal(HookNames.Embed, fitted.Hook);
        int animal = Array.IndexOf(dataset.Classes, "animal");
        Assert.True(PlantedConceptModel.Cosine(fitted.Direction(animal), planted.Direction) >= 0.95);
    }

    [Fact]
    public void RandomLabelsScoreAtChanceWithALargePValue()
    {
        using var planted = new PlantedConceptModel();
        var rng = new Random(4);
        var labels = planted.Items.Select(_ => rng.Next(2) == 0 ? "a" : "b").ToArray();
        var dataset = ProbeDataset.Read(planted.WriteDataset(i => labels[i]), 5);
        var report = Prober.Run(planted.Model, dataset, Hooks, new ProbeOptions { Method = ProbeMethod.MassMean, Permutations = 49 }, cancellation: TestContext.Current.CancellationToken);
        Assert.All(report.Layers, l =>
        {
            Assert.InRange(l.Accuracy!.Value.Mean, 0.25, 0.75);
            Assert.True(l.PValue > 0.01, $"{l.Hook}: p {l.PValue}");
        });
    }

    [Fact]
    public void SavedProbeLoadsBackWithItsDirectionsAndMetadata()
    {
        using var planted = new PlantedConceptModel();
        var dataset = ProbeDataset.Read(planted.WriteDataset(), 5);
        var report = Prober.Run(planted.Model, dataset, Hooks, new ProbeOptions { Method = ProbeMethod.MassMean, Permutations = 0 }, cancellation: TestContext.Current.CancellationToken);
        var path = Path.Combine(Path.GetDirectoryName(dataset.Path)!, "p.safetensors");
        report.Fitted!.Save(path);
        var loaded = SavedProbe.Load(path);
        Assert.Equal(report.Fitted.Hook, loaded.Hook);
        Assert.Equal(dataset.Classes, loaded.Classes);
        Assert.Equal("mass-mean", loaded.Method);
        for (int i = 0; i < loaded.Directions.Length; i++) Assert.Equal(report.Fitted.Directions[i], loaded.Directions[i], 5);
        for (int i = 0; i < loaded.Probe.Weights.Length; i++) Assert.Equal(report.Fitted.Probe.Weights[i], loaded.Probe.Weights[i], 4);
    }

    [Fact]
    public void RidgeRecoversALinearValueAndFoldsNeverSplitIdenticalTexts()
    {
        var rng = new Random(1);
        int n = 120, d = 10;
        var x = new FeatureMatrix(n, d);
        var truth = Enumerable.Range(0, d).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var y = new double[n];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < d; j++) x.Row(r)[j] = rng.NextDouble() * 2 - 1;
            y[r] = 3 + System.Numerics.Tensors.TensorPrimitives.Dot(x.Row(r), truth) + 0.01 * (rng.NextDouble() - 0.5);
        }
        var texts = Enumerable.Range(0, n).Select(i => $"t{i % 40}").ToList();
        var folds = CrossValidation.GroupedFolds(texts, y, 5, 0);
        Assert.All(texts.GroupBy(t => t), g => Assert.Single(g.Select(t => folds[texts.IndexOf(t)]).Distinct()));
        for (int i = 0; i < n; i++) Assert.Equal(folds[texts.IndexOf(texts[i])], folds[i]);
        var evaluator = new ProbeEvaluator(ProbeMethod.Ridge, 0, Enumerable.Range(0, n).Select(i => i % 5).ToArray(), Enumerable.Range(0, n).Select(i => $"u{i}").ToList(), 0);
        var (predictions, _) = evaluator.Predict(x, y);
        Assert.True(evaluator.FoldScores(predictions, y).Min() > 0.95);
    }

    [Theory]
    [InlineData("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\"}", ":2: each line needs exactly one of")]
    [InlineData("{\"text\":\"a\",\"value\":\"high\"}", ":1: \"value\" must be a finite number")]
    [InlineData("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\"x\"}\n{\"text\":\"c\",\"label\":\"x\"}\n{\"text\":\"d\",\"label\":\"x\"}\n{\"text\":\"e\",\"label\":\"x\"}", "every item has the label \"x\"")]
    [InlineData("{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"b\",\"label\":\"y\"}", "2 distinct texts, fewer than the 5")]
    [InlineData("not json", ":1: not valid JSON")]
    public void BadDatasetsAreOneLineErrorsNamingFileAndLine(string content, string expected)
    {
        var folder = Directory.CreateTempSubdirectory("pinpoint-probe-").FullName;
        var path = Path.Combine(folder, "bad.jsonl");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => ProbeDataset.Read(path, 5));
        Directory.Delete(folder, recursive: true);
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

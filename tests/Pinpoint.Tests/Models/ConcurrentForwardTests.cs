using System.Diagnostics;
using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Models;

/// <summary>Two callers share the worker pool: both get the right logits, bit for bit, whether they run together or one after the other.</summary>
public class ConcurrentForwardTests
{
    [Fact]
    public void TwoForwardPassesInParallelMatchSequence()
    {
        using var loaded = ModelLoader.Load(Pinpoint.Cli.ModelOptions.DefaultModelPath);
        var model = loaded.Model;
        var random = new Random(4);
        var batches = Enumerable.Range(0, 2).Select(_ =>
            new TokenBatch(4, 96, Enumerable.Range(0, 4 * 96).Select(_ => random.Next(model.Config.VocabSize)).ToArray())).ToArray();
        float[] Forward(TokenBatch b) => model.Forward(Compute.Eager, b).ToArray();
        var expected = batches.Select(Forward).ToArray();

        double bestSequence = double.MaxValue, bestParallel = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var b in batches) Forward(b);
            bestSequence = Math.Min(bestSequence, clock.Elapsed.TotalSeconds);

            clock.Restart();
            var results = new float[2][];
            var threads = Enumerable.Range(0, 2).Select(i => new Thread(() => results[i] = Forward(batches[i]))).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            bestParallel = Math.Min(bestParallel, clock.Elapsed.TotalSeconds);
            for (int i = 0; i < 2; i++) Assert.Equal(expected[i], results[i]);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"two forward passes: {bestParallel:F3} s in parallel, {bestSequence:F3} s in sequence (best of 3)");
    }
}

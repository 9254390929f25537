using Pinpoint.Cli;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Harvesting;

public sealed class ActivationHarvesterTests
{
    private static readonly string[] Texts = ["The cat sat on the mat.", "Paris is a city", "A", "Once upon a time there was a little dog who liked to run."];

    private static LoadedModel Embedded() => ModelLoader.Load(ModelOptions.DefaultModelPath);

    private static string[] SomeHooks(HookedTransformer m) =>
        [HookNames.Embed, HookNames.ResidPost(0), HookNames.Z(1), HookNames.MlpPost(2), HookNames.ResidPost(m.Config.NLayers - 1)];

    /// <summary>Rows of a padded, batched harvest equal RunWithCache on each sequence alone.</summary>
    [Theory]
    [InlineData(HarvestPositions.Every)]
    [InlineData(HarvestPositions.Last)]
    [InlineData(HarvestPositions.Marked)]
    public void HarvestedValuesEqualRunWithCacheOfEachSequenceAlone(HarvestPositions positions)
    {
        using var loaded = Embedded();
        var model = loaded.Model;
        var hooks = SomeHooks(model);
        var sequences = HarvestSources.Texts(loaded, Texts).Select(s => s with { Marked = s.Ids.Length / 2 }).ToList();
        var harvester = new ActivationHarvester(model, hooks, positions, batchSize: 3);
        var batches = new List<ActivationBatch>();
        var totals = harvester.Run(sequences, batches.Add, cancellation: TestContext.Current.CancellationToken);

        int expectedRows = positions == HarvestPositions.Every ? sequences.Sum(s => s.Ids.Length) : sequences.Count;
        Assert.Equal(2, batches.Count);
        Assert.Equal(expectedRows, batches.Sum(b => b.Rows));
        Assert.Equal(new HarvestProgress(sequences.Count, sequences.Sum(s => s.Ids.Length), expectedRows), totals);
        foreach (var batch in batches)
            for (int r = 0; r < batch.Rows; r++)
            {
                var seq = sequences[(int)batch.Sources[r]];
                int pos = batch.Positions[r];
                Assert.Equal(seq.Ids[pos], batch.Tokens[r]);
                if (positions == HarvestPositions.Last) Assert.Equal(seq.Ids.Length - 1, pos);
                if (positions == HarvestPositions.Marked) Assert.Equal(seq.Marked, pos);
                var (_, cache) = model.RunWithCache(TokenBatch.Single(seq.Ids), hooks.Contains);
                for (int h = 0; h < hooks.Length; h++)
                {
                    var reference = cache[hooks[h]].Contiguous().Span;
                    int w = batch.Widths[h];
                    Assert.Equal(reference.Length / seq.Ids.Length, w);
                    var expected = reference.Slice(pos * w, w);
                    var actual = batch.Row(h, r);
                    for (int i = 0; i < w; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])),
                        $"{hooks[h]} row {r} [{i}]: {actual[i]} vs {expected[i]}");
                }
            }
    }

    [Fact]
    public async Task AsyncStreamDeliversTheSameBatchesAndReportsProgress()
    {
        using var loaded = Embedded();
        var hooks = new[] { HookNames.ResidPost(1) };
        var sequences = HarvestSources.Texts(loaded, Texts).ToList();
        var harvester = new ActivationHarvester(loaded.Model, hooks, HarvestPositions.Every, batchSize: 2);
        var sync = new List<ActivationBatch>();
        harvester.Run(sequences, sync.Add, cancellation: TestContext.Current.CancellationToken);
        var reports = new List<HarvestProgress>();
        var progress = new SynchronousProgress(reports.Add);
        var streamed = new List<ActivationBatch>();
        await foreach (var b in harvester.RunAsync(sequences, progress, TestContext.Current.CancellationToken)) streamed.Add(b);
        Assert.Equal(sync.Count, streamed.Count);
        for (int i = 0; i < sync.Count; i++)
        {
            Assert.Equal(sync[i].Sources, streamed[i].Sources);
            Assert.Equal(sync[i].Values(0), streamed[i].Values(0));
        }
        Assert.Equal(2, reports.Count);
        Assert.Equal(sequences.Count, reports[^1].Sequences);
    }

    /// <summary>
    /// With reused batches at most three are ever allocated (the one consumed, the one waiting, the one being filled),
    /// however many are delivered, and each holds what a fresh batch holds; the shorter last batch gets its own.
    /// </summary>
    [Fact]
    public async Task ReusedBatchesAreAtMostThreeAndHoldWhatFreshOnesHold()
    {
        using var loaded = Embedded();
        var harvester = new ActivationHarvester(loaded.Model, [HookNames.ResidPost(1), HookNames.MlpPost(0)], HarvestPositions.Every, batchSize: 2);
        var sequences = Enumerable.Range(0, 21).Select(i => new HarvestSequence(i == 20 ? [7, 8] : [1 + i, 40 + i, 300 + i, 9], i)).ToList();
        var fresh = new List<ActivationBatch>();
        harvester.Run(sequences, fresh.Add, cancellation: TestContext.Current.CancellationToken);
        var distinct = new HashSet<ActivationBatch>();
        int delivered = 0;
        await foreach (var b in harvester.RunAsync(sequences, cancellation: TestContext.Current.CancellationToken, reuseBatches: true))
        {
            distinct.Add(b);
            var expected = fresh[delivered++];
            Assert.Equal(expected.Rows, b.Rows);
            Assert.Equal(expected.Sources, b.Sources);
            Assert.Equal(expected.Positions, b.Positions);
            Assert.Equal(expected.Tokens, b.Tokens);
            Assert.Equal(expected.Values(0), b.Values(0));
            Assert.Equal(expected.Values(1), b.Values(1));
        }
        Assert.Equal(11, delivered);
        Assert.InRange(distinct.Count, 1, 4);
        Assert.InRange(distinct.Count(b => b.Rows == 8), 1, 3);
    }

    [Fact]
    public void CancellationStopsBeforeTheNextBatch()
    {
        using var loaded = Embedded();
        var harvester = new ActivationHarvester(loaded.Model, [HookNames.ResidPost(0)], HarvestPositions.Last, batchSize: 1);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.Throws<OperationCanceledException>(() => harvester.Run(HarvestSources.Texts(loaded, Texts), _ => { seen++; cts.Cancel(); }, cancellation: cts.Token));
        Assert.Equal(1, seen);
    }

    [Fact]
    public async Task AsyncStreamStopsItsProducerWhenTheConsumerBreaks()
    {
        using var loaded = Embedded();
        var harvester = new ActivationHarvester(loaded.Model, [HookNames.ResidPost(0)], HarvestPositions.Last, batchSize: 1);
        long enumerated = 0;
        IEnumerable<HarvestSequence> Endless()
        {
            for (long i = 0; ; i++)
            {
                Interlocked.Increment(ref enumerated);
                yield return new HarvestSequence([1, 2, 3], i);
            }
        }
        await foreach (var _ in harvester.RunAsync(Endless(), cancellation: TestContext.Current.CancellationToken)) break;
        long after = Interlocked.Read(ref enumerated);
        Assert.InRange(after, 1, 4);
    }

    [Fact]
    public void CorpusWindowsCoverTheTokenStreamWithEndOfTextBetweenDocuments()
    {
        using var loaded = Embedded();
        var file = Path.Combine(Directory.CreateTempSubdirectory("pinpoint-harvest-").FullName, "c.jsonl");
        File.WriteAllLines(file, ["{\"text\":\"one two three four five\"}", "{\"text\":\"six seven\"}"]);
        var windows = HarvestSources.Corpus(loaded, [file], windowLength: 3).ToList();
        var expected = loaded.Tokenizer.Encode("one two three four five", false).Append(loaded.Tokenizer.Eos!.Value)
            .Concat(loaded.Tokenizer.Encode("six seven", false)).Append(loaded.Tokenizer.Eos!.Value).ToArray();
        Assert.Equal(expected, windows.SelectMany(w => w.Ids));
        Assert.All(windows.SkipLast(1), w => Assert.Equal(3, w.Ids.Length));
        Assert.Equal(Enumerable.Range(0, windows.Count).Select(i => (long)i), windows.Select(w => w.Source));
    }

    [Fact]
    public void MarkedTokenIsTheLastTokenOfThePrefix()
    {
        using var loaded = Embedded();
        var s = HarvestSources.Marked(loaded, "The president", " said hello", 4);
        var head = loaded.Encode("The president");
        Assert.Equal(head.Length - 1, s.Marked);
        Assert.Equal(head[^1], s.Ids[s.Marked]);
        Assert.Equal(4, s.Source);
    }

    [Fact]
    public void TextsOverTheContextAndUnknownHooksAreClearErrors()
    {
        using var loaded = Embedded();
        var longText = string.Join(" ", Enumerable.Repeat("word", loaded.Model.Config.ContextLength + 5));
        var e = Assert.Throws<ArgumentException>(() => HarvestSources.Texts(loaded, ["ok", longText]).ToList());
        Assert.StartsWith("text 1 is ", e.Message);
        var h = Assert.Throws<ArgumentException>(() => HookSelection.Resolve(loaded.Model, "blocks.*.hook_nothing"));
        Assert.Contains("blocks.*.hook_resid_post", h.Message);
        Assert.Throws<ArgumentException>(() => new ActivationHarvester(loaded.Model, [HookNames.Pattern(0)], HarvestPositions.Last));
        Assert.Equal(HookSelection.ResidualStream(loaded.Model.Config), HookSelection.Resolve(loaded.Model, "hook_embed, blocks.*.hook_resid_post"));
    }

    private sealed class SynchronousProgress(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}

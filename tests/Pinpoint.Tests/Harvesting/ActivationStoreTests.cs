using Pinpoint.Cli;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Harvesting;

public sealed class ActivationStoreTests
{
    [Fact]
    public void StoredShardsReadBackEveryHarvestedRowAndItsOrigin()
    {
        using var loaded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        string[] hooks = [HookNames.ResidPost(0), HookNames.MlpPost(1)];
        var harvester = new ActivationHarvester(loaded.Model, hooks, HarvestPositions.Every, batchSize: 2);
        var texts = new[] { "A small red fox.", "The moon rose over the hill and the owls woke up.", "Bread and butter" };
        var batches = new List<ActivationBatch>();
        var dir = Directory.CreateTempSubdirectory("pinpoint-store-").FullName;
        using (var writer = new ActivationStoreWriter(dir, rowsPerShard: 7))
        {
            harvester.Run(HarvestSources.Texts(loaded, texts), b => { batches.Add(b); writer.Add(b); }, cancellation: TestContext.Current.CancellationToken);
            writer.Complete();
        }
        using var store = ActivationStore.Open(dir);
        long total = batches.Sum(b => (long)b.Rows);
        Assert.Equal(total, store.Rows);
        Assert.Equal((int)Math.Ceiling(total / 7.0), store.ShardRows.Length);
        Assert.Equal(hooks, store.Hooks);
        long row = 0;
        foreach (var b in batches)
            for (int r = 0; r < b.Rows; r++, row++)
            {
                Assert.Equal((b.Sources[r], b.Positions[r], b.Tokens[r]), store.Origin(row));
                for (int h = 0; h < hooks.Length; h++) Assert.True(b.Row(h, r).SequenceEqual(store.Row(row, h)));
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Row(total, 0).Length);
    }

    [Fact]
    public void ATruncatedShardIsAnErrorNamingTheFile()
    {
        using var loaded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        var dir = Directory.CreateTempSubdirectory("pinpoint-store-").FullName;
        using (var writer = new ActivationStoreWriter(dir))
        {
            new ActivationHarvester(loaded.Model, [HookNames.ResidPost(0)], HarvestPositions.Last)
                .Run(HarvestSources.Texts(loaded, ["one", "two"]), writer.Add, cancellation: TestContext.Current.CancellationToken);
            writer.Complete();
        }
        var shard = ActivationStore.ValuesPath(dir, 0, 0);
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^4]);
        var e = Assert.Throws<InvalidDataException>(() => ActivationStore.Open(dir));
        Assert.StartsWith(shard, e.Message);
    }
}

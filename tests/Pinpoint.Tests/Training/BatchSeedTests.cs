using Pinpoint.Training;

namespace Pinpoint.Tests.Training;

public class BatchSeedTests
{
    [Fact]
    public void SeedsAreFixedNumbersNotPerProcessHashes()
    {
        // Computed independently (SplitMix64 in Python): a resumed run in a new process must draw the same batches.
        Assert.Equal(450171289, BatchSeed.Of(1, 0, 0));
        Assert.Equal(133829721, BatchSeed.Of(1, 1, 0));
        Assert.Equal(382062685, BatchSeed.Of(1, 0, 1));
        Assert.Equal(1449387145, BatchSeed.Of(-1, 3, 0));
    }

    [Fact]
    public void NearbyCoordinatesGetDistinctSeeds()
    {
        var seeds = new HashSet<int>();
        for (int seed = 0; seed < 4; seed++)
        for (int step = 0; step < 500; step++)
        for (int micro = 0; micro < 4; micro++)
            seeds.Add(BatchSeed.Of(seed, step, micro));
        Assert.Equal(4 * 500 * 4, seeds.Count);
    }
}

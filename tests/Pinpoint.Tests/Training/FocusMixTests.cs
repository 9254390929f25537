using Pinpoint.Models.Tokenizers;
using Pinpoint.Training;

namespace Pinpoint.Tests.Training;

/// <summary>
/// The focus rows of the corpus batch builder, on a token file of distinct rising tokens with a few planted focus
/// tokens: every focus row can be traced back to the planted occurrence it was placed on.
/// </summary>
public sealed class FocusMixTests : IDisposable
{
    private const int Context = 32, Batch = 16;
    private const int Rare = 7, Common = 8;
    /// <summary>Occurrences of <see cref="Rare"/>: at 5,000 its next token repeats one 10 tokens earlier; at 1,000 and 9,000 it is new.</summary>
    private static readonly long[] RarePositions = [1_000, 5_000, 9_000];
    private const long RareSeenNext = 5_000;
    private static readonly long[] CommonPositions = Enumerable.Range(0, 100).Select(i => 12_000L + 150 * i).ToArray();
    private readonly string _dir = Directory.CreateTempSubdirectory("pinpoint-focus-").FullName;
    private readonly TokenDataset _train, _validation;

    public FocusMixTests()
    {
        var tokens = Enumerable.Range(0, 30_000).Select(i => 100 + i).ToArray();
        foreach (var p in RarePositions) tokens[p] = Rare;
        tokens[RareSeenNext + 1] = tokens[RareSeenNext - 10];
        foreach (var p in CommonPositions) tokens[p] = Common;
        _train = TokenDataset.Open(Write("train.bin", tokens));
        _validation = TokenDataset.Open(Write("val.bin", Enumerable.Range(40_000, 5_000).ToArray()));
    }

    private string Write(string name, int[] tokens)
    {
        var path = Path.Combine(_dir, name);
        using var writer = new BinaryWriter(File.Create(path));
        foreach (var t in tokens) writer.Write((ushort)t);
        return path;
    }

    private static int[][] Rows(CorpusTrainingData data, int step)
    {
        var (inputs, targets) = (new int[Batch * Context], new int[Batch * Context]);
        data.FillTrainBatch(seed: 3, step, micro: 0, Batch, Context, inputs, targets);
        return Enumerable.Range(0, Batch)
            .Select(r => inputs.AsSpan(r * Context, Context).ToArray().Append(targets[r * Context + Context - 1]).ToArray()).ToArray();
    }

    /// <summary>Where the row's focus token sits (-1 when it has none); asserts the row is the training text around it.</summary>
    private long FocusPosition(int[] row)
    {
        int index = Array.FindIndex(row, t => t is Rare or Common);
        if (index < 0) return -1;
        // Most tokens are 100 + their position; planted ones and the repeated next token are not.
        long start = row.Select((t, i) => (long)t - 100 - i).GroupBy(s => s).MaxBy(g => g.Count())!.Key;
        long at = start + index;
        for (int i = 0; i < row.Length; i++) Assert.Equal(_train[at - index + i], row[i]);
        return at;
    }

    [Fact]
    public void FocusRowsPutAFocusTokenInTheirSecondHalfAndDrawEachTokenAlike()
    {
        var data = new CorpusTrainingData(_train, _validation, focus: new FocusMix(0.5, [Rare, Common], NextInContext: false));
        int rare = 0, common = 0;
        for (int step = 1; step <= 40; step++)
        {
            var rows = Rows(data, step);
            for (int r = 0; r < Batch / 2; r++)
            {
                long at = FocusPosition(rows[r]);
                Assert.True(at >= 0, $"step {step}: focus row {r} has no focus token");
                int index = Array.FindIndex(rows[r], t => t is Rare or Common);
                Assert.InRange(index, Context / 2, Context);
                if (rows[r][index] == Rare) { rare++; Assert.Contains(at, RarePositions); } else common++;
            }
        }
        // 320 focus rows, each token drawn with probability 1/2 although one is 33 times as frequent: 160 ± 3 sd is [133, 187].
        Assert.Equal(320, rare + common);
        Assert.InRange(rare, 133, 187);
    }

    [Fact]
    public void NextInContextKeepsOnlyOccurrencesWhoseNextTokenCameBefore()
    {
        var data = new CorpusTrainingData(_train, _validation, focus: new FocusMix(0.25, [Rare], NextInContext: true));
        for (int step = 1; step <= 20; step++)
        {
            var rows = Rows(data, step);
            for (int r = 0; r < Batch / 4; r++) Assert.Equal(RareSeenNext, FocusPosition(rows[r]));
        }
    }

    [Fact]
    public void WithoutFocusTheBatchesAreThoseOfAPlainCorpus()
    {
        using var other = new CorpusTrainingData(TokenDataset.Open(_train.Path), TokenDataset.Open(_validation.Path));
        var none = new CorpusTrainingData(_train, _validation, focus: new FocusMix(0, [Rare], false));
        for (int step = 1; step <= 5; step++) Assert.Equal(Rows(other, step), Rows(none, step));
    }

    [Fact]
    public void AFocusTokenWithNoUsableOccurrenceIsRefused()
    {
        var data = new CorpusTrainingData(_train, _validation, focus: new FocusMix(0.5, [Common], NextInContext: true));
        var e = Assert.Throws<InvalidDataException>(() => Rows(data, 1));
        Assert.Contains("no occurrence of the focus tokens whose next token occurred", e.Message);
    }

    [Theory]
    [InlineData("\"focus_fraction\": 1.5, \"focus_tokens\": [\" a\"]", "focus_fraction must be in [0, 1]")]
    [InlineData("\"focus_fraction\": 0.2", "focus_fraction needs focus_tokens")]
    [InlineData("\"focus_fraction\": 0.2, \"focus_tokens\": [\"x\"], \"data\": \"repeated_random_tokens\", \"vocab_size\": 64", "focus_fraction needs data corpus")]
    public void ImpossibleFocusMixesAreRejected(string field, string message)
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $"{{\"context\": 32, {field}}}");
        var e = Assert.Throws<ArgumentException>(() => TrainConfig.Load(path).Validate());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void FocusTokensMustBeSingleTokens()
    {
        var path = Path.Combine(_dir, "tokenizer.json");
        TrainedBpe.Bytes(256).Save(path);
        var bytes = HfTokenizer.Load(path);
        var config = new TrainConfig { FocusFraction = 0.1, FocusTokens = ["a", " an"] };
        var e = Assert.Throws<ArgumentException>(() => config.Focus(bytes));
        Assert.Contains("focus token ' an' is 3 tokens, not one", e.Message);
        Assert.Equal([(int)bytes.Encode("a", addBos: false)[0]], new TrainConfig { FocusFraction = 0.1, FocusTokens = ["a", "a"] }.Focus(bytes).TokenIds);
        Assert.Same(FocusMix.None, new TrainConfig { FocusTokens = ["a"] }.Focus(bytes));
    }

    public void Dispose()
    {
        _train.Dispose();
        _validation.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

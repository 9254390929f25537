using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;
using Pinpoint.Training;

namespace Pinpoint.Tests.Training;

public class ModelGrowthTests
{
    private static readonly LlamaAdapter Llama = new();

    private static TransformerConfig Shape(int dModel, int layers, int heads, int dMlp) =>
        Llama.ConfigForTraining(new TrainingShape(dModel, layers, heads, dMlp, VocabSize: 50, Context: 16, AttentionOnly: false, EndOfText: 49));

    private static readonly TransformerConfig Small = Shape(32, 2, 4, 64);

    /// <summary>A random model with gains away from 1, so that the √(d/D) gain scaling is exercised.</summary>
    private static TransformerWeights SmallModel()
    {
        var weights = Llama.CreateRandom(Small, seed: 3);
        var random = new Random(4);
        foreach (var (name, tensor) in weights.Parameters())
            if (tensor.Rank == 1)
                foreach (ref float g in tensor.Span) g = 0.5f + (float)random.NextDouble();
        return weights;
    }

    private static float[] Logits(TransformerConfig config, TransformerWeights weights, int[] ids) =>
        new HookedTransformer(config, weights).RunWithCache(TokenBatch.Single(ids), _ => false).Logits.Span.ToArray();

    public static TheoryData<string> Growths => ["d_model", "heads", "d_mlp", "layers", "all", "all, untied unembedding"];

    private static TransformerConfig Grown(string dimension) => dimension switch
    {
        "d_model" => Shape(48, 2, 6, 64),
        // More heads at the same head_dim and d_model: q/k/v rows and o columns grow, the residual does not.
        "heads" => Small with { NHeads = 6, NKvHeads = 6 },
        "d_mlp" => Shape(32, 2, 4, 96),
        "layers" => Shape(32, 5, 4, 64),
        _ => Shape(48, 5, 6, 96),
    };

    [Theory]
    [MemberData(nameof(Growths))]
    public void GrownModelComputesTheSameLogits(string dimension)
    {
        var to = Grown(dimension);
        var old = SmallModel();
        if (dimension.Contains("untied")) old = old with { Unembed = new Linear(new WeightInitializer(7, Small.NLayers).Normal(0.3f, Small.VocabSize, Small.DModel), OutIn: true) };
        var growth = new ModelGrowth(Small, to, "test");
        var grown = growth.Grow(old, Llama.CreateRandom(to, seed: 5));
        foreach (var ids in new[] { new[] { 1, 7, 3, 3, 9, 12 }, new[] { 40, 2, 2, 2 }, Enumerable.Range(0, 16).Select(i => i * 3 % 49).ToArray() })
        {
            var (before, after) = (Logits(Small, old, ids), Logits(growth.To, grown, ids));
            Assert.Equal(before.Length, after.Length);
            Assert.All(before.Zip(after), p => Assert.Equal(p.First, p.Second, 1e-4f));
        }
        if (to.NLayers > Small.NLayers) Assert.Equal([0, 4], growth.LayerPositions);
        // The new entries of input-side matrices are the fresh random draw, not zeros: gradients can reach them.
        if (to.DModel > Small.DModel) Assert.NotEqual(0f, grown.Blocks[0].Attention.Q!.Weight.Span[to.DModel - 1]);
    }

    /// <summary>AdamW moments: old entries in place (the gains' scaled as their gradients scale), zeros everywhere else.</summary>
    [Fact]
    public void MomentsArePlacedLikeTheWeightsWithZerosForNewEntries()
    {
        var to = Shape(48, 3, 6, 96);
        var growth = new ModelGrowth(Small, to, "test");
        var grown = growth.Grow(SmallModel(), Llama.CreateRandom(to, seed: 5));
        var oldSecond = SmallModel();
        var second = growth.GrowMoments(oldSecond, grown, power: 2);
        Assert.Equal(grown.Parameters().Select(p => (p.Name, p.Tensor.Shape.ToArray())), second.Parameters().Select(p => (p.Name, p.Tensor.Shape.ToArray())));
        float[] Row(Tensor t, int row, int length) => t.Span.Slice(row * t.Dim(t.Rank - 1), length).ToArray();
        Assert.Equal(Row(oldSecond.Embedding, 9, 32), Row(second.Embedding, 9, 32));
        Assert.All(Row(second.Embedding, 9, 48)[32..], x => Assert.Equal(0f, x));
        Assert.Equal(Row(oldSecond.Blocks[1].Mlp!.Up!.Weight, 63, 32), Row(second.Blocks[2].Mlp!.Up!.Weight, 63, 32));
        Assert.All(Row(second.Blocks[2].Mlp!.Up!.Weight, 64, 48), x => Assert.Equal(0f, x));
        Assert.Equal(oldSecond.Blocks[0].Ln1.Weight.Span[5] * 48f / 32f, second.Blocks[0].Ln1.Weight.Span[5], 1e-5f);
        Assert.Equal(0f, second.Blocks[0].Ln1.Weight.Span[40]);
        Assert.All(second.Blocks[1].Mlp!.In.Weight.Span.ToArray(), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void LayersAreInterleavedEvenlyKeepingTheFirstAndLast()
    {
        Assert.Equal([0, 2, 3, 5], new ModelGrowth(Shape(32, 4, 4, 64), Shape(32, 6, 4, 64), "test").LayerPositions);
        Assert.Equal([0], new ModelGrowth(Shape(32, 1, 4, 64), Shape(32, 3, 4, 64), "test").LayerPositions);
        Assert.Equal([0, 1, 2], new ModelGrowth(Shape(32, 3, 4, 64), Shape(32, 3, 4, 64), "test").LayerPositions);
    }

    [Fact]
    public void ShrinkingAndChangingHeadDimOrVocabAreRefusedNamingTheDimension()
    {
        foreach (var (to, message) in new (TransformerConfig, string)[]
        {
            (Shape(32, 1, 4, 64), "n_layers would shrink from 2 to 1"),
            (Shape(32, 2, 4, 32), "d_mlp would shrink from 64 to 32"),
            (Shape(16, 2, 2, 64), "d_model would shrink from 32 to 16"),
            (Shape(64, 2, 4, 64), "head_dim would change from 8 to 16"),
            (Small with { VocabSize = 60 }, "vocab 50 differs from the recipe's 60"),
            (Small with { ContextLength = 32 }, "context 16 differs from the recipe's 32"),
        })
        {
            var e = Assert.Throws<InvalidDataException>(() => new ModelGrowth(Small, to, "ckpt"));
            Assert.StartsWith("ckpt: a llama d32×2 layers", e.Message);
            Assert.Contains(message, e.Message);
        }
        var gqa = Assert.Throws<InvalidDataException>(() => new ModelGrowth(Small with { NKvHeads = 2 }, Shape(48, 2, 6, 64), "ckpt"));
        Assert.Contains("grouped-query attention (4 query heads, 2 key/value heads) cannot be grown", gqa.Message);
    }

    /// <summary>
    /// End to end through --init: a trained llama checkpoint grown in every dimension has the checkpoint's validation
    /// loss at step 0; training then moves the new parameters (the output side first, the input side one step later,
    /// since the zero output projections pass no gradient back at the first step), and dynamics reads the grown run.
    /// </summary>
    [Fact]
    public void InitWithALargerRecipeGrowsTheCheckpointAndKeepsTraining()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var config = TrainerTests.TinyCorpusConfig(corpus) with { Architecture = "llama", NHeads = 4, Steps = 4, WarmupSteps = 1 };
        var first = TrainerTests.TempDir();
        using (var t = Trainer.Open(config, first, resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        var init = Path.Combine(first, Trainer.CheckpointsFolder, "step-0000004");
        var bigger = config with { Init = init, DModel = 48, NHeads = 6, NLayers = 3, DMlp = 192, WeightDecay = 0, Steps = 2, WarmupSteps = 1 };

        var grownRun = TrainerTests.TempDir();
        using (var t = Trainer.Open(bigger, grownRun, resume: false))
        {
            Assert.Equal(TrainingState.Load(init).LastValidationLoss!.Value, t.ValidationLoss(), 1e-4);
            var w = t.Model.Weights;
            float[] Newest(Tensor matrix, bool rows) => rows
                ? matrix.Span[((matrix.Dim(0) - 1) * matrix.Dim(1))..].ToArray()
                : Enumerable.Range(0, matrix.Dim(0)).Select(r => matrix.Span[r * matrix.Dim(1) + matrix.Dim(1) - 1]).ToArray();
            var newQ = Newest(w.Blocks[2].Attention.Q!.Weight, rows: true);
            Assert.All(Newest(w.Embedding, rows: false), x => Assert.Equal(0f, x));
            Assert.All(Newest(w.Blocks[1].Attention.O.Weight, rows: false), x => Assert.Equal(0f, x));
            Assert.All(Newest(w.Blocks[0].Mlp!.Out.Weight, rows: false), x => Assert.Equal(0f, x));

            Assert.True(double.IsFinite(t.TrainStep().Loss));
            Assert.Contains(Newest(w.Embedding, rows: false), x => x != 0f);
            Assert.Contains(Newest(w.Blocks[1].Attention.O.Weight, rows: false), x => x != 0f);
            Assert.Contains(Newest(w.Blocks[0].Mlp!.Out.Weight, rows: false), x => x != 0f);
            Assert.True(double.IsFinite(t.TrainStep().Loss));
            Assert.NotEqual(newQ, Newest(w.Blocks[2].Attention.Q!.Weight, rows: true));
        }

        // The run's own checkpoints record the growth and form one lineage for dynamics.
        using (var t = Trainer.Open(bigger, grownRun + "-run", resume: false)) t.Run(cancel: TestContext.Current.CancellationToken);
        var state = TrainingState.Load(Path.Combine(grownRun + "-run", Trainer.CheckpointsFolder, "step-0000006"));
        Assert.Equal("llama d32×2 layers, 4 heads, d_mlp 128, vocab 300, context 32", state.GrownFrom);
        Assert.Equal([5, 6], CheckpointFolder.Find(grownRun + "-run").Select(c => c.Step));
        // Both sides of the growth in one folder: refused, saying why.
        var lineage = TrainerTests.TempDir();
        foreach (var checkpoint in new[] { init, Path.Combine(grownRun + "-run", Trainer.CheckpointsFolder, "step-0000006") })
        {
            var copy = Directory.CreateDirectory(Path.Combine(lineage, Path.GetFileName(checkpoint))).FullName;
            foreach (var file in Directory.GetFiles(checkpoint)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }
        var mixed = Assert.Throws<InvalidDataException>(() => CheckpointFolder.Find(lineage));
        Assert.Contains("step-0000006: a llama d48×3 layers", mixed.Message);
        Assert.Contains("the run grew its init checkpoint", mixed.Message);
    }
}

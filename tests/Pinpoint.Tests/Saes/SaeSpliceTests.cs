using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Saes;

public class SaeSpliceTests
{
    private const string Hook = "blocks.0.hook_resid_post";

    private static HookedTransformer TinyModel()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32, VocabSize = 12, ContextLength = 16,
        };
        return new HookedTransformer(config, new Gpt2Adapter().CreateRandom(config, seed: 5));
    }

    private static readonly int[][] Sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 9, 1, 0, 11, 2, 5], [4, 10, 2, 2, 7, 6, 1, 9]];

    private static Sae WithHook(Sae sae) => new(sae.DIn, sae.DSae, sae.Architecture, sae.K, sae.ApplyBDecToInput, sae.EncoderRows, sae.Decoder, sae.BEnc, sae.BDec, sae.Threshold)
    { Metadata = sae.Metadata with { HookName = Hook } };

    /// <summary>x = ReLU(x) − ReLU(−x): 2·d features with W_dec = [I; −I] reconstruct any activation exactly.</summary>
    private static Sae Identity(int d)
    {
        var rows = new float[2 * d * d];
        for (int i = 0; i < d; i++)
        {
            rows[i * d + i] = 1;
            rows[(d + i) * d + i] = -1;
        }
        return new Sae(d, 2 * d, SaeArchitecture.Standard, 0, true, rows, rows.ToArray(), new float[2 * d], new float[d], null) { Metadata = new SaeMetadata { HookName = Hook } };
    }

    private static float MaxDiff(Tensor a, Tensor b) => Math.Abs(TensorPrimitives.MaxMagnitude(a.ToArray().Zip(b.ToArray(), (x, y) => x - y).ToArray()));

    [Theory]
    [InlineData(SaeArchitecture.Standard)]
    [InlineData(SaeArchitecture.TopK)]
    [InlineData(SaeArchitecture.JumpRelu)]
    public void SpliceWithErrorTermIsExactAndWithoutItUsesTheReconstruction(SaeArchitecture arch)
    {
        using var model = TinyModel();
        var sae = WithHook(SaeFormatTests.RandomSae(arch, dIn: 16, dSae: 24));
        var batch = new TokenBatch(1, Sequences[0].Length, Sequences[0]);
        var (clean, cache) = model.RunWithCache(batch, h => h == Hook);

        var exact = new HookSet(h => h.StartsWith(Hook + ".hook_sae")).Splice(sae, Compute.Eager, keepError: true);
        var withError = model.Forward(Compute.Eager, batch, exact);
        Assert.True(MaxDiff(clean, withError) < 1e-4f, $"error term kept: logits differ by {MaxDiff(clean, withError)}");

        var x = cache[Hook].Contiguous();
        int rows = Sequences[0].Length;
        var acts = new float[rows * sae.DSae];
        var recon = new float[rows * sae.DIn];
        sae.Encode(x.Span, rows, acts);
        sae.Decode(acts, rows, recon);
        Assert.True(MaxDiff(exact.Cache[SaeSplice.HookName(sae, SaeSplice.ActsPost)], Tensor.FromArray(acts, 1, rows, sae.DSae)) < 1e-5f);
        Assert.True(MaxDiff(exact.Cache[SaeSplice.HookName(sae, SaeSplice.Recons)], Tensor.FromArray(recon, 1, rows, sae.DIn)) < 1e-5f);

        var spliced = model.Forward(Compute.Eager, batch, new HookSet().Splice(sae, Compute.Eager));
        var replaced = model.RunWithHooks(batch, [(Hook, (t, _) => Tensor.FromArray(recon.ToArray(), t.Shape.ToArray()))]);
        Assert.True(MaxDiff(spliced, replaced) < 1e-5f);
        Assert.True(MaxDiff(spliced, clean) > 1e-4f, $"a random SAE should change the logits when its error is dropped (max change {MaxDiff(spliced, clean)})");
    }

    /// <summary>Zeroing every feature at hook_sae_acts_post leaves the reconstruction at b_dec (features patch like any activation).</summary>
    [Fact]
    public void FeaturesCanBePatchedAtTheirHook()
    {
        using var model = TinyModel();
        var sae = WithHook(SaeFormatTests.RandomSae(SaeArchitecture.Standard, dIn: 16, dSae: 24));
        var batch = new TokenBatch(1, Sequences[1].Length, Sequences[1]);
        var hooks = new HookSet(h => h == SaeSplice.HookName(sae, SaeSplice.Recons))
            .Add(SaeSplice.HookName(sae, SaeSplice.ActsPost), (t, _) => Tensor.Zeros(t.Shape.ToArray()))
            .Splice(sae, Compute.Eager);
        model.Forward(Compute.Eager, batch, hooks);
        var recons = hooks.Cache[SaeSplice.HookName(sae, SaeSplice.Recons)].ToArray();
        for (int r = 0; r < Sequences[1].Length; r++)
            Assert.Equal(sae.BDec, recons.AsSpan(r * 16, 16).ToArray());
    }

    [Fact]
    public void EvaluationOfAnExactSaeScoresOneAndOfAZeroSaeScoresZero()
    {
        using var model = TinyModel();
        var windows = Sequences.Select((ids, i) => new HarvestSequence(ids, i)).ToList();
        var exact = SaeEvaluator.Evaluate(model, Identity(16), "identity", windows, batchSize: 2);
        Assert.Equal(24, exact.Tokens);
        Assert.Equal(1, exact.ExplainedVariance!.Value, 5);
        Assert.Equal(1, exact.CeLossScore!.Value, 4);
        Assert.Equal(1, exact.KlDivScore!.Value, 4);
        Assert.Equal(1, exact.Cossim!.Value, 5);
        Assert.Equal(1, exact.L2Ratio!.Value, 5);
        Assert.Equal(exact.CeLossClean, exact.CeLossSae, 5);
        Assert.InRange(exact.L0, 15.99, 16.01); // each dimension is positive or negative (almost surely never 0)

        var d = 16;
        var zero = new Sae(d, 4, SaeArchitecture.Standard, 0, true, new float[4 * d], new float[4 * d], new float[4], new float[d], null)
            { Metadata = new SaeMetadata { HookName = Hook } };
        var none = SaeEvaluator.Evaluate(model, zero, "zero", windows);
        Assert.Equal(0, none.CeLossScore!.Value, 6);
        Assert.Equal(0, none.KlDivScore!.Value, 6);
        Assert.Equal(1, none.DeadFraction);
        Assert.Equal(0, none.L0);
        Assert.True(none.ExplainedVariance < 0, "reconstructing with 0 explains less than the per-dimension mean does");
    }

    [Fact]
    public void SaeThatDoesNotFitTheModelIsRejected()
    {
        using var model = TinyModel();
        var wide = SaeFormatTests.RandomSae(SaeArchitecture.Standard, dIn: 12, dSae: 4);
        var e = Assert.Throws<ArgumentException>(() => SaeSplice.CheckFits(WithHook(wide), model, "dir"));
        Assert.Equal($"dir: field 'd_in' is 12, but hook '{Hook}' of this model is 16 wide", e.Message);
        var elsewhere = Identity(16);
        var missing = new Sae(16, 32, SaeArchitecture.Standard, 0, true, elsewhere.EncoderRows, elsewhere.Decoder, elsewhere.BEnc, elsewhere.BDec, null)
            { Metadata = new SaeMetadata { HookName = "blocks.7.hook_resid_post" } };
        e = Assert.Throws<ArgumentException>(() => SaeSplice.CheckFits(missing, model, "dir"));
        Assert.Contains("'blocks.7.hook_resid_post', which this model does not have", e.Message);
    }
}

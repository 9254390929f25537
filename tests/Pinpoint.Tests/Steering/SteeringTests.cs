using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Steering;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Steering;

public class SteeringTests
{
    private static readonly TransformerConfig Small = new()
    {
        Architecture = "gpt2", DModel = 16, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32, VocabSize = 12, ContextLength = 24,
    };

    private static HookedTransformer RandomModel(int seed = 5)
    {
        var w = new Gpt2Adapter().CreateRandom(Small, seed);
        var rng = new Random(seed);
        // Larger than GPT-2's initialisation, so every layer changes the logits visibly.
        foreach (var (_, t) in w.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.6);
        }
        return new HookedTransformer(Small, w);
    }

    private static float[] RandomVector(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static float[] Logits(HookedTransformer model, int[] ids) => model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();

    /// <summary>
    /// The final norm is made affine (its epsilon swamps the variance), the unembedding untied, and token 7's unembedding
    /// row is a zero-mean unit direction r that every other row is orthogonal to: adding c·r to the last residual
    /// stream must raise token 7's logit by c and leave every other logit where it was.
    /// </summary>
    [Fact]
    public void SteeringAlongAPlantedDirectionMovesExactlyThePlantedLogit()
    {
        const int Planted = 7;
        const float Eps = 1e6f, Coefficient = 3f;
        var config = Small with { NormEps = Eps };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 2);
        var gain = w.FinalNorm.Weight.Span;
        for (int i = 0; i < gain.Length; i++) gain[i] = MathF.Sqrt(Eps);
        var r = RandomVector(config.DModel, seed: 9);
        float mean = r.Average();
        for (int i = 0; i < r.Length; i++) r[i] -= mean;
        float norm = MathF.Sqrt(r.Sum(v => v * v));
        for (int i = 0; i < r.Length; i++) r[i] /= norm;
        var unembed = w.Embedding.Clone();
        var u = unembed.Span;
        for (int t = 0; t < config.VocabSize; t++)
        {
            var row = u.Slice(t * config.DModel, config.DModel);
            if (t == Planted) { r.CopyTo(row); continue; }
            float dot = 0;
            for (int i = 0; i < r.Length; i++) dot += row[i] * r[i];
            for (int i = 0; i < r.Length; i++) row[i] -= dot * r[i];
        }
        var model = new HookedTransformer(config, w with { Unembed = new Linear(unembed, OutIn: true) });
        int[] ids = [1, 2, 3, 4, 5];
        var before = Logits(model, ids);
        model.Interventions.Add(new SteeringVector(HookNames.ResidPost(config.NLayers - 1), r, Coefficient, TokenPositions.All));
        var after = Logits(model, ids);
        for (int i = 0; i < after.Length; i++)
        {
            int token = i % config.VocabSize;
            Assert.Equal(token == Planted ? Coefficient : 0f, after[i] - before[i], 1e-3f);
        }
    }

    [Fact]
    public void KvCachedGenerationSteersEachNewPositionAsAFullRecompute()
    {
        var model = RandomModel();
        int[] prompt = [3, 1, 4];
        var plain = Logits(model, [.. prompt, 1, 5]);
        model.Interventions.Add(new SteeringVector(HookNames.ResidPre(1), RandomVector(Small.DModel, 1), 2f, new TokenPositions(2, null)));
        model.Interventions.Add(new SteeringVector(HookNames.Z(0), RandomVector(Small.NHeads * Small.DHead, 2), -1.5f, new TokenPositions(4, 6)));
        var tokens = prompt.ToList();
        var cache = new KvCache(Small, 1, 12);
        var step = prompt;
        for (int n = 0; n < 7; n++)
        {
            var cached = model.Forward(Compute.Eager, TokenBatch.Single(step), kvCache: cache).ToArray()[^Small.VocabSize..];
            var full = Logits(model, [.. tokens]).AsSpan(^Small.VocabSize..).ToArray();
            for (int v = 0; v < full.Length; v++) Assert.Equal(full[v], cached[v], 1e-4f);
            int next = Array.IndexOf(full, full.Max());
            tokens.Add(next);
            step = [next];
        }
        // The interventions changed the model (else the comparison above would prove nothing).
        var steered = Logits(model, [.. prompt, 1, 5]);
        Assert.True(plain.Zip(steered).Max(p => Math.Abs(p.First - p.Second)) > 0.1f);
        // Positions before 2 are untouched: the first two positions' logits are unchanged.
        for (int i = 0; i < 2 * Small.VocabSize; i++) Assert.Equal(plain[i], steered[i], 1e-5f);
    }

    [Fact]
    public void SteeringKeepsGradientsFlowingToEarlierActivations()
    {
        var model = RandomModel();
        model.Interventions.Add(new SteeringVector(HookNames.ResidPre(1), RandomVector(Small.DModel, 4), 1f, TokenPositions.All));
        var tape = new Tape();
        var hooks = new HookSet(name => name == HookNames.ResidPre(0));
        hooks.Add(HookNames.ResidPre(0), (a, _) => { a.RequiresGrad = true; return null; });
        var logits = model.Forward(new Compute(tape), TokenBatch.Single([1, 2, 3]), hooks);
        var loss = new Compute(tape).Sum(logits);
        tape.Backward(loss);
        var grad = tape.GradOf(hooks.Cache[HookNames.ResidPre(0)]).ToArray();
        Assert.Contains(grad, g => Math.Abs(g) > 1e-6);
    }

    [Fact]
    public void DirectionalAblationRemovesTheDirectionAndWeightOrthogonalisationComputesTheSame()
    {
        var model = RandomModel();
        var ablation = new DirectionalAblation(RandomVector(Small.DModel, 7));
        int[] ids = [1, 2, 3, 4, 5, 6];
        var plain = Logits(model, ids);
        model.Interventions.Add(ablation);
        var residuals = Enumerable.Range(0, Small.NLayers).Select(HookNames.ResidPost).ToHashSet();
        var (hooked, cache) = model.RunWithCache(TokenBatch.Single(ids), residuals.Contains);
        foreach (var name in residuals)
        {
            var x = cache[name].ToArray();
            for (int row = 0; row < ids.Length; row++)
                Assert.Equal(0f, x.AsSpan(row * Small.DModel, Small.DModel).ToArray().Zip(ablation.Direction).Sum(p => p.First * p.Second), 1e-4f);
        }
        var baked = new HookedTransformer(Small, ablation.Orthogonalize(model.Weights));
        Assert.False(ReferenceEquals(baked.Weights.Unembed.Weight, baked.Weights.Embedding));
        var orthogonalised = Logits(baked, ids);
        var h = hooked.ToArray();
        for (int i = 0; i < h.Length; i++) Assert.Equal(h[i], orthogonalised[i], 1e-4f);
        Assert.True(plain.Zip(h).Max(p => Math.Abs(p.First - p.Second)) > 0.05f);
    }

    [Fact]
    public void OrthogonalisedEmbeddedModelIsWrittenAsAnUntiedHfFolderThatLoadsBack()
    {
        var dir = Directory.CreateTempSubdirectory("pinpoint-orth-").FullName;
        try
        {
            var source = Path.Combine(SharedData.RepoRoot, "models", "default");
            using var loaded = ModelLoader.Load(source);
            var ablation = new DirectionalAblation(RandomVector(loaded.Model.Config.DModel, 3));
            var ids = loaded.Encode("Once upon a time, there was a little dog.");
            loaded.Model.Interventions.Add(ablation);
            var hooked = Logits(loaded.Model, ids);
            var architecture = (ITrainableArchitecture)ArchitectureRegistry.ByName(loaded.Model.Config.Architecture, source);
            HfCheckpoint.Write(dir, architecture, loaded.Model.Config, ablation.Orthogonalize(loaded.Model.Weights),
                Path.Combine(source, "tokenizer.json"), DType.F32);
            using var reloaded = ModelLoader.Load(dir);
            Assert.Empty(reloaded.Model.Interventions);
            var baked = Logits(reloaded.Model, ids);
            for (int i = 0; i < baked.Length; i++) Assert.Equal(hooked[i], baked[i], 2e-3f);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void VectorOfTheWrongSizeOrAnUnknownHookIsRefused()
    {
        var model = RandomModel();
        model.Interventions.Add(new SteeringVector(HookNames.ResidPre(0), new float[5], 1f, TokenPositions.All));
        var e = Assert.Throws<ArgumentException>(() => Logits(model, [1, 2]));
        Assert.Contains("5 values", e.Message);
        Assert.Contains("16 per token", e.Message);
        Assert.Throws<ArgumentException>(() => SteeringVector.CheckFits(HookNames.Pattern(0), 16, Small));
        Assert.Throws<ArgumentException>(() => SteeringVector.CheckFits("blocks.9.hook_resid_pre", 16, Small));
    }

    [Theory]
    [InlineData("all", 0, null)]
    [InlineData("3", 3, 4)]
    [InlineData("2:5", 2, 5)]
    [InlineData("4:", 4, null)]
    public void PositionsParse(string text, int start, int? end)
    {
        var p = TokenPositions.Parse(text);
        Assert.Equal(new TokenPositions(start, end), p);
        Assert.Equal(text, p.ToString());
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("5:2")]
    [InlineData("x")]
    public void BadPositionsFail(string text) => Assert.Throws<FormatException>(() => TokenPositions.Parse(text));

    [Fact]
    public void SpecsParseWithQuotedValues()
    {
        var s = SteeringSpec.Parse("hook=blocks.1.hook_resid_pre, plus=\" happy, glad\",minus=\" sad \\\"x\\\"\",coef=-4.5,pos=2:,unit");
        Assert.Equal("blocks.1.hook_resid_pre", s.Hook);
        Assert.Equal(" happy, glad", s.Plus);
        Assert.Equal(" sad \"x\"", s.Minus);
        Assert.Equal(-4.5f, s.Coefficient);
        Assert.Equal(new TokenPositions(2, null), s.Positions);
        Assert.True(s.Unit);
        var f = SteeringSpec.Parse("ablate,file=probe.safetensors,tensor=w,row=3");
        Assert.True(f.Ablate);
        Assert.Equal(3, f.Row);
    }

    [Theory]
    [InlineData("hook=h", "exactly one source")]
    [InlineData("hook=h,plus=a", "both plus= and minus=")]
    [InlineData("hook=h,plus=a,minus=b,pairs=p.jsonl", "exactly one source")]
    [InlineData("plus=a,minus=b", "hook= is required")]
    [InlineData("hook=h,plus=a,minus=b,coef=x", "coef 'x' is not a number")]
    [InlineData("hook=h,plus=a,minus=b,size=3", "unknown field 'size'")]
    [InlineData("hook=h,plus=\"a,minus=b", "not closed")]
    [InlineData("hook=h,plus=a,minus=b,hook=g", "given twice")]
    [InlineData("ablate,file=f,tensor=t,coef=2", "drop coef")]
    [InlineData("hook=h,file=f", "both file= and tensor=")]
    public void BadSpecsFailNamingTheSpec(string text, string problem)
    {
        var e = Assert.Throws<ArgumentException>(() => SteeringSpec.Parse(text));
        Assert.Contains($"steering spec '{text}'", e.Message);
        Assert.Contains(problem, e.Message);
    }
}

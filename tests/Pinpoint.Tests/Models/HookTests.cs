using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Models;

/// <summary>Invariants of the hook points on a learned-position model (gpt2-random) and a rotary GQA model (stories260K).</summary>
public class HookTests
{
    public static TheoryData<string> Models => new() { "gpt2-random", "stories260K" };

    private static LoadedModel Open(string model) => model == "gpt2-random"
        ? ModelLoader.Load(SharedData.Require("models/gpt2-random"))
        : ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.bin"));

    private static int[] Prompt(string model) => model == "gpt2-random"
        ? [400, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100]
        : [1, 403, 407, 261, 378, 300, 42, 17, 99, 250];

    [Theory]
    [MemberData(nameof(Models))]
    public void ReplacingEveryHookWithItsCachedValueChangesNothing(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var batch = TokenBatch.Single(Prompt(model));
        var (logits, cache) = m.RunWithCache(batch);
        Assert.Equal(HookNames.All(m.Config).Order(StringComparer.Ordinal), cache.Names.Order(StringComparer.Ordinal));
        var replayed = m.RunWithHooks(batch, HookNames.All(m.Config).Select(name => (name, (HookFunction)((_, n) => cache[n].Clone()))));
        Assert.Equal(logits.ToArray(), replayed.ToArray());
        // The hooked path (per-head results summed, norm scales) agrees with the fused plain forward up to summation order.
        double fused = MaxAbsDiff(logits.ToArray(), m.Forward(Compute.Eager, batch).ToArray());
        Assert.True(fused <= 1e-4, $"hooked vs plain forward: max |Δlogit| {fused:G3}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void SuppliedActivationsSkipWhatOnlyFeedsThem(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var batch = TokenBatch.Single(Prompt(model));
        string[] Supplied(int layer) => [HookNames.Q(layer), HookNames.K(layer), HookNames.V(layer), HookNames.Ln2Normalized(layer)];
        var names = Enumerable.Range(0, m.Config.NLayers).SelectMany(Supplied).ToHashSet();
        var (logits, cache) = m.RunWithCache(batch, names.Contains);
        // Taped from embeddings that take a gradient, so every op the model computes from them is recorded: the cached
        // query, key, value and MLP input given by sources leave out the model's own norms and Q/K/V projections, which
        // functions replacing the same activations do not, and both give the plain run's logits.
        (float[] Logits, int Ops) Run(Action<HookSet, string> register)
        {
            var tape = new Tape();
            tape.Freeze(m.Weights.Parameters().Select(p => p.Tensor));
            var hooks = new HookSet().Add(HookNames.Embed, (x, _) =>
            {
                var leaf = x.Clone();
                leaf.RequiresGrad = true;
                return leaf;
            });
            foreach (var name in names) register(hooks, name);
            return (m.Forward(new Compute(tape), batch, hooks).ToArray(), tape.Count);
        }
        var supplied = Run((hooks, name) => hooks.Supply(name, n => cache[n].Clone()));
        var replaced = Run((hooks, name) => hooks.Add(name, (_, n) => cache[n].Clone()));
        Assert.Equal(logits.ToArray(), supplied.Logits);
        Assert.Equal(logits.ToArray(), replaced.Logits);
        Assert.True(supplied.Ops < replaced.Ops, $"{supplied.Ops} ops recorded with sources, {replaced.Ops} with replacing functions");
        var twice = new HookSet().Supply(HookNames.Q(0), n => cache[n]);
        Assert.Throws<ArgumentException>(() => twice.Supply(HookNames.Q(0), n => cache[n]));
    }

    /// <summary>A 16-bit cache holds only the filtered activations, in half the bytes, each value rounded once.</summary>
    [Theory]
    [InlineData(DType.BF16, 1.0 / 256)]
    [InlineData(DType.F16, 1.0 / 2048)]
    public void HalfPrecisionCachesAreRoundedCopies(DType dtype, double relative)
    {
        using var loaded = Open("stories260K");
        var m = loaded.Model;
        var batch = TokenBatch.Single(Prompt("stories260K"));
        static bool Filter(string n) => n.EndsWith("hook_resid_post", StringComparison.Ordinal) || n.EndsWith("hook_z", StringComparison.Ordinal);
        var (logits, full) = m.RunWithCache(batch, Filter);
        var (halfLogits, half) = m.RunWithCache(batch, Filter, cacheDType: dtype);
        Assert.Equal(logits.ToArray(), halfLogits.ToArray());
        Assert.Equal(full.Names.Order(StringComparer.Ordinal), half.Names.Order(StringComparer.Ordinal));
        Assert.Equal(2 * m.Config.NLayers, half.Names.Count);
        Assert.Equal(full.TotalBytes, 2 * half.TotalBytes);
        foreach (var name in full.Names)
        {
            Assert.Equal(dtype, half[name].DType);
            var exact = full[name].ToArray();
            var rounded = half[name].ToArray();
            for (int i = 0; i < exact.Length; i++)
                Assert.True(Math.Abs(exact[i] - rounded[i]) <= relative * Math.Abs(exact[i]) + 1e-7, $"{name}[{i}]: {rounded[i]} vs {exact[i]}");
            Assert.NotEqual(exact, rounded);
        }
        Assert.Throws<ArgumentException>(() => m.RunWithCache(batch, Filter, cacheDType: DType.Q8_0));
    }

    /// <summary>Last-position logits equal the last row of the full logits, for every sequence of a padded batch, and carry the same gradients.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void LastPositionLogitsAreTheLastRowOfTheFullLogits(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var prompt = Prompt(model);
        var batch = TokenBatch.LeftPadded([prompt, prompt[..5]], 0);
        int v = m.Config.VocabSize, len = batch.Length;
        var full = m.Forward(Compute.Eager, batch).ToArray();
        var last = m.Forward(Compute.Eager, batch, lastPositionOnly: true);
        Assert.Equal([2, 1, v], last.Shape.ToArray());
        for (int b = 0; b < 2; b++)
            Assert.Equal(full.AsSpan(((b * len) + len - 1) * v, v).ToArray(), last.Span.Slice(b * v, v).ToArray());

        float[] GradientAtEmbed(bool lastOnly)
        {
            var tape = new Tape();
            var hooks = new HookSet(n => n == HookNames.Embed);
            hooks.Add(HookNames.Embed, (act, _) => { act.RequiresGrad = true; return null; });
            var logits = m.Forward(new Compute(tape), TokenBatch.Single(prompt), hooks, lastPositionOnly: lastOnly);
            var seed = Tensor.Zeros(logits.Shape.ToArray());
            seed.Span[seed.Size - v + 3] = 1f;
            tape.Backward(logits, seed);
            return hooks.Cache[HookNames.Embed].Grad!.ToArray();
        }
        Assert.True(MaxAbsDiff(GradientAtEmbed(false), GradientAtEmbed(true)) <= 1e-6);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ZeroingOneHeadRemovesExactlyItsResult(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var c = m.Config;
        int layer = c.NLayers - 1, head = 1, last = c.NLayers - 1;
        var batch = TokenBatch.Single(Prompt(model));
        var (_, clean) = m.RunWithCache(batch);

        // Ablate the head, and hold the MLP output of its layer at its clean value so the residual is linear in the head.
        var hooks = new HookSet(n => n == HookNames.AttnOut(layer) || n == HookNames.ResidPost(last));
        hooks.Add(HookNames.Z(layer), (z, _) => ZeroHead(z, head));
        hooks.Add(HookNames.MlpOut(layer), (_, n) => clean[n]);
        m.Forward(Compute.Eager, batch, hooks);

        var headResult = HeadSlice(clean[HookNames.Result(layer)], head);
        var expectedAttnOut = Subtract(clean[HookNames.AttnOut(layer)].ToArray(), headResult);
        var expectedFinal = Subtract(clean[HookNames.ResidPost(last)].ToArray(), headResult);
        Assert.True(MaxAbsDiff(expectedAttnOut, hooks.Cache[HookNames.AttnOut(layer)].ToArray()) <= 1e-5);
        Assert.True(MaxAbsDiff(expectedFinal, hooks.Cache[HookNames.ResidPost(last)].ToArray()) <= 1e-5);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ResidualComponentsSumToTheFinalResidual(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var c = m.Config;
        var (_, cache) = m.RunWithCache(TokenBatch.Single(Prompt(model)));
        var sum = cache[HookNames.Embed].ToArray();
        var parts = new List<string>();
        if (c.Positions == PositionKind.Learned) parts.Add(HookNames.PosEmbed);
        for (int l = 0; l < c.NLayers; l++) parts.AddRange([HookNames.AttnOut(l), HookNames.MlpOut(l)]);
        foreach (var part in parts)
        {
            var values = cache[part].ToArray();
            for (int i = 0; i < sum.Length; i++) sum[i] += values[i];
        }
        var final = cache[HookNames.ResidPost(c.NLayers - 1)].ToArray();
        double scale = final.Max(Math.Abs);
        Assert.True(MaxAbsDiff(sum, final) <= 1e-5 * scale, $"max |Δ| {MaxAbsDiff(sum, final):G3} vs scale {scale:G3}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void FilteredCacheStoresOnlyMatchingNames(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var (logits, cache) = m.RunWithCache(TokenBatch.Single(Prompt(model)), n => n.EndsWith("hook_z", StringComparison.Ordinal) || n == HookNames.Embed);
        var expected = Enumerable.Range(0, m.Config.NLayers).Select(HookNames.Z).Append(HookNames.Embed).Order(StringComparer.Ordinal);
        Assert.Equal(expected, cache.Names.Order(StringComparer.Ordinal));
        Assert.Equal(m.Forward(Compute.Eager, TokenBatch.Single(Prompt(model))).ToArray(), logits.ToArray());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LeftPaddedRowsMatchTheirUnpaddedRuns(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        int vocab = m.Config.VocabSize;
        var prompt = Prompt(model);
        var sequences = new[] { prompt, prompt[..4], prompt[2..9] };
        var padded = m.Forward(Compute.Eager, TokenBatch.LeftPadded(sequences, padId: 0)).ToArray();
        int length = prompt.Length;
        for (int b = 0; b < sequences.Length; b++)
        {
            var alone = m.Forward(Compute.Eager, TokenBatch.Single(sequences[b])).ToArray()[^vocab..];
            var row = padded.AsSpan(((b * length) + length - 1) * vocab, vocab).ToArray();
            Assert.True(MaxAbsDiff(alone, row) <= 1e-4, $"row {b}: max |Δlogit| {MaxAbsDiff(alone, row):G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void KvCacheStepsMatchFullRecomputation(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        int vocab = m.Config.VocabSize;
        var prompt = Prompt(model);
        var full = m.Forward(Compute.Eager, TokenBatch.Single(prompt)).ToArray();
        var cache = new KvCache(m.Config, 1, prompt.Length);
        // A 5-token prefill, then one token at a time.
        var first = m.Forward(Compute.Eager, TokenBatch.Single(prompt[..5]), kvCache: cache).ToArray();
        Assert.True(MaxAbsDiff(full.AsSpan(0, 5 * vocab).ToArray(), first) <= 1e-4);
        for (int t = 5; t < prompt.Length; t++)
        {
            var step = m.Forward(Compute.Eager, TokenBatch.Single([prompt[t]]), kvCache: cache).ToArray();
            var expected = full.AsSpan(t * vocab, vocab).ToArray();
            Assert.True(MaxAbsDiff(expected, step) <= 1e-4, $"position {t}: max |Δlogit| {MaxAbsDiff(expected, step):G3}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ResidualIsTheForwardUpToTheFinalNorm(string model)
    {
        using var loaded = Open(model);
        var m = loaded.Model;
        var batch = TokenBatch.Single(Prompt(model));
        var (_, cache) = m.RunWithCache(batch, name => name == HookNames.ResidPost(m.Config.NLayers - 1));
        var residual = m.Residual(Compute.Eager, batch);
        Assert.Equal(cache[HookNames.ResidPost(m.Config.NLayers - 1)].ToArray(), residual.ToArray());
        Assert.Equal([1, batch.Length, m.Config.DModel], residual.Shape.ToArray());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AFrozenPrefixContinuesAsTheWholeRunOnAndOffTheTape(string model)
    {
        // A cache filled by one prompt and frozen at the 6 tokens another shares with it: continuing either (the other one
        // taped) gives the whole run's logits at its positions, and the taped one the whole run's gradient at its
        // positions of resid_pre 0 (which reaches the logits through its own keys and values too).
        using var loaded = Open(model);
        var m = loaded.Model;
        var prompt = Prompt(model);
        int shared = 6, vocab = m.Config.VocabSize, d = m.Config.DModel;
        var other = prompt.ToArray();
        other[shared] = prompt[shared + 1];
        var cache = new KvCache(m.Config, 1, prompt.Length);
        var wholeOther = m.Forward(Compute.Eager, TokenBatch.Single(other), kvCache: cache).ToArray()[(shared * vocab)..];
        cache.Freeze(shared);

        var continued = m.Forward(Compute.Eager, TokenBatch.Single(other[shared..]), kvCache: cache).ToArray();
        Assert.True(MaxAbsDiff(wholeOther, continued) <= 1e-4, $"max |Δlogit| {MaxAbsDiff(wholeOther, continued):G3}");
        Assert.Equal(shared, cache.Length);

        var (logits, gradient) = Taped(prompt[shared..], cache, 0);
        var (wholeLogits, wholeGradient) = Taped(prompt, null, shared);
        Assert.True(MaxAbsDiff(wholeLogits[(shared * vocab)..], logits) <= 1e-4);
        var expected = wholeGradient[(shared * d)..];
        Assert.True(expected.Max(Math.Abs) > 1e-3, "the gradient must not vanish");
        Assert.True(MaxAbsDiff(expected, gradient) <= 1e-4 * expected.Max(Math.Abs), $"max |Δgradient| {MaxAbsDiff(expected, gradient):G3}");
        var step = Tensor.Zeros(1, 1, m.Config.NKvHeads, m.Config.DHead);
        Assert.Throws<InvalidOperationException>(() => cache.Append(0, step, step));

        // Logits and ∂(Σ sin(i) · logit i over the rows from position `seeded` on)/∂resid_pre 0 of a taped run.
        (float[] Logits, float[] Gradient) Taped(int[] ids, KvCache? prefix, int seeded)
        {
            var tape = new Tape();
            Tensor? leaf = null;
            var hooks = new HookSet();
            hooks.Add(HookNames.ResidPre(0), (x, _) =>
            {
                leaf = x.Contiguous().Clone();
                leaf.RequiresGrad = true;
                return leaf;
            });
            var output = m.Forward(new Compute(tape), TokenBatch.Single(ids), hooks, prefix);
            var seed = Tensor.Zeros(output.Shape.ToArray());
            for (int i = seeded * vocab; i < output.Size; i++) seed.Span[i] = (float)Math.Sin(i - seeded * vocab);
            tape.Backward(output, seed);
            return (output.ToArray(), leaf!.Grad!.ToArray());
        }
    }

    private static Tensor ZeroHead(Tensor z, int head)
    {
        var copy = z.Clone();
        int heads = z.Dim(2), dHead = z.Dim(3);
        var span = copy.Span;
        for (int row = 0; row < span.Length / (heads * dHead); row++)
            span.Slice((row * heads + head) * dHead, dHead).Clear();
        return copy;
    }

    /// <summary>One head's slice [B, T, d_model] of hook_result [B, T, H, d_model], flattened.</summary>
    private static float[] HeadSlice(Tensor result, int head)
    {
        var all = result.ToArray();
        int heads = result.Dim(2), d = result.Dim(3), rows = all.Length / (heads * d);
        var slice = new float[rows * d];
        for (int row = 0; row < rows; row++) all.AsSpan((row * heads + head) * d, d).CopyTo(slice.AsSpan(row * d, d));
        return slice;
    }

    private static float[] Subtract(float[] a, float[] b) => a.Zip(b, (x, y) => x - y).ToArray();

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    }
}

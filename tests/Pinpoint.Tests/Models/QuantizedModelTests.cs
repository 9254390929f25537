using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Models;

/// <summary>
/// stories260K requantized by our own quantizer and GGUF writer, run on its blocks: prefill (f32 GEMM over
/// dequantized panels) and KV-cached decoding (integer dots on 8-bit activations) against the f32 file, and
/// gradients through the quantized weights against the same weights dequantized into an f32 file.
/// </summary>
public class QuantizedModelTests
{
    private static readonly int[] Ids = [1, 403, 407, 261, 378, 300, 42, 7, 64, 200, 150, 9, 380, 17, 250, 33];

    private static string Requantized(TempDir dir, QuantizationScheme scheme)
    {
        var source = SharedData.Require("models/stories260K/stories260K.gguf");
        var path = dir.File($"stories260K-{scheme}.gguf");
        using var file = TensorFile.Open(source);
        GgufQuantizer.Write(file, path, scheme);
        return path;
    }

    private static float[] Prefill(LoadedModel m) => m.Model.Forward(Compute.Eager, TokenBatch.Single(Ids)).ToArray();

    /// <summary>The prefill with quantized products on <paramref name="mode"/>'s activations.</summary>
    private static float[] Prefill(LoadedModel m, QuantizedPrefillMode mode)
    {
        using var scope = QuantizedPrefill.Use(mode);
        return Prefill(m);
    }

    /// <summary>Logits of every position, one token at a time through the KV cache (the decode path: m = 1).</summary>
    private static float[] Decode(LoadedModel m)
    {
        int v = m.Model.Config.VocabSize;
        var cache = new KvCache(m.Model.Config, 1, Ids.Length);
        var logits = new float[Ids.Length * v];
        for (int i = 0; i < Ids.Length; i++)
            m.Model.Forward(Compute.Eager, TokenBatch.Single([Ids[i]]), kvCache: cache).Span.CopyTo(logits.AsSpan(i * v, v));
        return logits;
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    /// <summary>An f32 GGUF holding exactly the values of a quantized one (the dequantize-then-f32 reference).</summary>
    private static string Dequantized(TempDir dir, string quantized)
    {
        var path = dir.File("dequantized.gguf");
        using var q = TensorFile.Open(quantized);
        GgufWriter.Write(path, q.Metadata, q.Names.Select(n => new GgufTensorData(n, q[n])));
        return path;
    }

    /// <summary>
    /// Against the same weights in f32: prefill is exact up to f32 rounding (f32 activations against dequantized
    /// panels; the brief's 2e-2), decode carries the 8-bit activation error. Against the original f32 file, the weights' own rounding
    /// (printed; llama.cpp's Q8_0 of the same file moves its logits alike).
    /// </summary>
    /// <summary>
    /// Quantized tensors read into memory (the default) hold the file's bytes exactly as the map does, every other
    /// tensor stays a view of the map, and the place names only resident and mapped (one line naming the variable).
    /// </summary>
    [Fact]
    public void ResidentQuantizedTensorsHoldTheMappedBytes()
    {
        using var dir = new TempDir();
        var path = Requantized(dir, QuantizationScheme.Q4_K_M);
        using var resident = GgufReader.Open(path, residentWeights: true);
        using var mapped = GgufReader.Open(path, residentWeights: false);
        Assert.Equal(mapped.Names, resident.Names);
        int quantized = 0;
        foreach (var name in mapped.Names)
        {
            Tensor a = resident.Tensors[name], b = mapped.Tensors[name];
            Assert.Equal(b.DType, a.DType);
            Assert.True(a.Storage.AsBytes().SequenceEqual(b.Storage.AsBytes()), $"{name}: resident bytes differ from the file's");
            if (a.DType.IsQuantized()) quantized++;
        }
        Assert.True(quantized > 0, "no quantized tensor in the requantized file");
        Assert.True(GgufReader.ResidentWeights(null) && GgufReader.ResidentWeights("Resident") && !GgufReader.ResidentWeights("mapped"));
        var error = Assert.Throws<ArgumentException>(() => GgufReader.ResidentWeights("swap"));
        Assert.Contains(GgufReader.WeightsVariable + "=swap", error.Message);
    }

    [Fact]
    public void Stories260KInQ8_0StaysWithinTolerance()
    {
        using var dir = new TempDir();
        var path = Requantized(dir, QuantizationScheme.Q8_0);
        using var original = ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.gguf"));
        using var f32 = ModelLoader.Load(Dequantized(dir, path));
        using var q8 = ModelLoader.Load(path);
        Assert.Equal(DType.Q8_0, q8.Model.Weights.Blocks[0].Attention.Q!.Weight.DType);
        Assert.Equal(DType.Q8_0, q8.Model.Weights.Embedding.DType);
        Assert.False(q8.Model.Weights.Embedding.Storage.IsManaged);

        var reference = Prefill(f32);
        double prefill = MaxAbsDiff(reference, Prefill(q8, QuantizedPrefillMode.F32)), int8Prefill = MaxAbsDiff(reference, Prefill(q8));
        double decode = MaxAbsDiff(reference, Decode(q8)), weights = MaxAbsDiff(Prefill(original), reference);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"stories260K Q8_0 vs its weights in f32: max |Δlogit| f32 prefill {prefill:G3}, default (8-bit) prefill {int8Prefill:G3}, decode {decode:G3}; f32 weights vs the original file {weights:G3}");
        Assert.True(reference.Max(Math.Abs) > 1, "degenerate logits");
        Assert.True(weights > 1e-3, "the weights were not quantized");
        Assert.True(prefill <= 1e-4, $"f32 prefill: max |Δlogit| {prefill:G3} > 1e-4");
        // 8-bit activations (the default prefill's and decode's) cost ~0.2 here, as they cost llama.cpp 0.16
        // (QuantizedOracleTests compares the two).
        Assert.True(int8Prefill <= 0.25, $"default prefill: max |Δlogit| {int8Prefill:G3} > 0.25");
        Assert.True(decode <= 0.25, $"decode: max |Δlogit| {decode:G3} > 0.25");
        // The f32 file's own decode path agrees with its prefill: the cache itself adds nothing.
        Assert.True(MaxAbsDiff(reference, Decode(f32)) <= 1e-4);

        // What a reader of the logits sees: the decode error against the weights' own rounding, in the spread of each
        // position's logits, in the predicted distribution (KL) and in the top token.
        int v = q8.Model.Config.VocabSize;
        var decodeEffect = Effect(reference, Decode(q8), v);
        var weightsEffect = Effect(Prefill(original), reference, v);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"decode vs f32 weights: {decodeEffect}; Q8_0 weights vs the original file: {weightsEffect}");
        // A top token can only change where the reference's top two are within 2·max |Δlogit| (a near-tie), so the
        // count is reported, not asserted; the distribution's movement is.
        Assert.True(decodeEffect.MaxKl <= weightsEffect.MaxKl * 2 + 1e-4, $"decode moves the distribution more than twice as much as the weights' rounding: {decodeEffect} vs {weightsEffect}");
    }

    /// <summary>
    /// The 8-bit prefill (<see cref="QuantizedPrefillMode.Int8"/>) on stories260K at Q8_0 (its rows of 64 values
    /// take no K-quant; the kernel tests cover those): each position's activations are rounded as the decode step
    /// rounds them, so prefill and decode agree far more closely than either agrees with the f32 activations.
    /// </summary>
    [Fact]
    public void Int8PrefillRoundsActivationsAsDecodeDoes()
    {
        const QuantizationScheme scheme = QuantizationScheme.Q8_0;
        using var dir = new TempDir();
        using var quantized = ModelLoader.Load(Requantized(dir, scheme));
        var f32 = Prefill(quantized, QuantizedPrefillMode.F32);
        var decode = Decode(quantized);
        var int8 = Prefill(quantized, QuantizedPrefillMode.Int8);
        Assert.Equal(QuantizedPrefillMode.Auto, QuantizedPrefill.Mode);
        double int8VsDecode = MaxAbsDiff(int8, decode), int8VsF32 = MaxAbsDiff(int8, f32);
        TestContext.Current.TestOutputHelper?.WriteLine($"stories260K {scheme}: int8 prefill vs decode max |Δlogit| {int8VsDecode:G3}, vs f32 prefill {int8VsF32:G3}");
        Assert.True(int8VsF32 > 1e-3, "the 8-bit path did not run");
        Assert.True(int8VsF32 <= 0.25, $"8-bit activations moved the logits by {int8VsF32:G3}");
        Assert.True(int8VsDecode <= 0.2 * int8VsF32, $"int8 prefill vs decode {int8VsDecode:G3} is not well inside int8 vs f32 {int8VsF32:G3}");

    }

    private sealed record LogitEffect(double MaxAbs, double MaxRelativeToSpread, double MaxKl, int SameTopToken, double LargestFlippedMargin)
    {
        public override string ToString() =>
            $"max |Δlogit| {MaxAbs:G3} = {MaxRelativeToSpread:P2} of the logits' standard deviation, max KL {MaxKl:G3} nats, same top token at {SameTopToken} positions (largest reference margin flipped {LargestFlippedMargin:G3})";
    }

    private static LogitEffect Effect(float[] reference, float[] other, int vocab)
    {
        double maxAbs = 0, maxRelative = 0, maxKl = 0, flippedMargin = 0;
        int sameTop = 0;
        for (int t = 0; t < reference.Length / vocab; t++)
        {
            var r = reference.AsSpan(t * vocab, vocab);
            var o = other.AsSpan(t * vocab, vocab);
            double mean = 0, variance = 0, delta = 0;
            foreach (var x in r) mean += x;
            mean /= vocab;
            foreach (var x in r) variance += (x - mean) * (x - mean);
            for (int i = 0; i < vocab; i++) delta = Math.Max(delta, Math.Abs(r[i] - o[i]));
            maxAbs = Math.Max(maxAbs, delta);
            maxRelative = Math.Max(maxRelative, delta / Math.Sqrt(variance / vocab));
            maxKl = Math.Max(maxKl, LanguageModelling.KlDivergence(LanguageModelling.LogSoftmax(r), LanguageModelling.LogSoftmax(o)));
            int top = ArgMax(r), otherTop = ArgMax(o);
            if (top == otherTop) sameTop++;
            else flippedMargin = Math.Max(flippedMargin, r[top] - r[otherTop]);
        }
        return new LogitEffect(maxAbs, maxRelative, maxKl, sameTop, flippedMargin);
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>
    /// Attribution patching on the quantized model: the gradients w.r.t. every patched activation flow back through
    /// the same blocks (dX = dY·Wᵀ, panels dequantized while packing) and equal those of the f32 file holding the
    /// dequantized weights; the estimates differ only through the last-position logit difference, which the decode
    /// path computes on 8-bit activations. Prefill takes f32 activations here, so only the weights' path is compared.
    /// </summary>
    [Fact]
    public void AttributionPatchingThroughQuantizedWeightsMatchesTheDequantizedModel()
    {
        using var f32Activations = QuantizedPrefill.Use(QuantizedPrefillMode.F32);
        using var dir = new TempDir();
        var path = Requantized(dir, QuantizationScheme.Q8_0);
        using var quantized = ModelLoader.Load(path);
        using var dequantized = ModelLoader.Load(Dequantized(dir, path));
        Assert.Equal(DType.F32, dequantized.Model.Weights.Blocks[0].Mlp!.In.Weight.DType);

        int[] clean = [1, 403, 407, 261, 378], counterfactual = [1, 403, 300, 261, 378];
        var names = AttributionPatching.HookPoints(quantized.Model.Config);
        var (q8Diff, q8) = AttributionPatching.Gradients(quantized.Model, clean, names, new LogitDiffReadout(quantized.Model, 261, 378));
        var (f32Diff, f32) = AttributionPatching.Gradients(dequantized.Model, clean, names, new LogitDiffReadout(dequantized.Model, 261, 378));
        Assert.True(Math.Abs(q8Diff - f32Diff) <= 5e-2, $"logit difference {q8Diff} vs {f32Diff}");
        double largest = 0;
        foreach (var name in names)
        {
            var expected = f32[name].Grad!.ToArray();
            var actual = q8[name].Grad!.ToArray();
            double scale = expected.Max(Math.Abs);
            largest = Math.Max(largest, scale);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (scale + 1e-3), $"{name}[{i}]: {actual[i]} vs {expected[i]}");
        }
        Assert.True(largest > 1e-2, "no gradient reached the activations");

        var estimate = AttributionPatching.Run(quantized.Model, clean, counterfactual, new LogitDiffReadout(quantized.Model, 261, 378), PatchDirection.Denoise);
        var reference = AttributionPatching.Run(dequantized.Model, clean, counterfactual, new LogitDiffReadout(dequantized.Model, 261, 378), PatchDirection.Denoise);
        var heads = reference.Heads.SelectMany(h => h).ToArray();
        var q8Heads = estimate.Heads.SelectMany(h => h).ToArray();
        double headScale = heads.Max(Math.Abs);
        for (int i = 0; i < heads.Length; i++) Assert.True(Math.Abs(heads[i] - q8Heads[i]) <= 0.1 * headScale, $"head {i}: {q8Heads[i]} vs {heads[i]}");
    }

    /// <summary>
    /// Weight attribution on the quantized model, without an f32 copy of its weights: every matrix's gradient×weight
    /// sums (from factored gradients and dequantized blocks) agree with the f32 file holding the same values, up to
    /// the last position's 8-bit activations; the verified vectors are measured against the matrix's f32 copy unzeroed.
    /// Prefill takes f32 activations here, so only the weights' path is compared.
    /// </summary>
    [Fact]
    public void WeightAttributionOnQuantizedWeightsMatchesTheDequantizedModel()
    {
        using var f32Activations = QuantizedPrefill.Use(QuantizedPrefillMode.F32);
        using var dir = new TempDir();
        var path = Requantized(dir, QuantizationScheme.Q8_0);
        using var quantized = ModelLoader.Load(path);
        using var dequantized = ModelLoader.Load(Dequantized(dir, path));
        int[] clean = [1, 403, 407, 261, 378];
        var q8 = WeightAttribution.Run(quantized.Model, clean, new LogitDiffReadout(quantized.Model, 261, 378), 4, id => $"#{id}");
        var f32 = WeightAttribution.Run(dequantized.Model, clean, new LogitDiffReadout(dequantized.Model, 261, 378), 4, id => $"#{id}");
        Assert.Equal(f32.Scored, q8.Scored);
        Assert.True(Math.Abs(q8.LogitDiff - f32.LogitDiff) <= 5e-2, $"logit difference {q8.LogitDiff} vs {f32.LogitDiff}");
        foreach (var (expected, actual) in f32.InBlocks.Verified.Zip(q8.InBlocks.Verified))
        {
            Assert.Equal(expected.Vector, actual.Vector);
            Assert.True(Math.Abs(expected.Estimate - actual.Estimate) <= 0.05 * Math.Abs(expected.Estimate) + 1e-3, $"{expected.Vector}: estimate {actual.Estimate} vs {expected.Estimate}");
            Assert.True(Math.Abs(expected.Actual - actual.Actual) <= 0.05 * Math.Abs(expected.Actual) + 2e-2, $"{expected.Vector}: zeroed {actual.Actual} vs {expected.Actual}");
        }
        Assert.Contains(q8.InBlocks.Verified, e => Math.Abs(e.Actual) > 1e-2);
    }
}

using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Engine;

namespace Pinpoint.Tests.Models;

/// <summary>End-to-end gradient check: the taped loss of whole models against finite differences, every parameter.</summary>
public class ModelGradientTests
{
    public static TheoryData<bool, bool> Variants => new() { { false, false }, { true, false }, { false, true } };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Gpt2LossGradientsMatchFiniteDifferences(bool attentionOnly, bool padded)
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32,
            VocabSize = 11, ContextLength = 8, AttentionOnly = attentionOnly,
        };
        var weights = new Gpt2Adapter().CreateRandom(config, seed: 3);
        // Larger weights than the 0.02 init so every path carries a measurable gradient.
        var rng = new Random(5);
        foreach (var (_, t) in weights.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.6);
        }
        var model = new HookedTransformer(config, weights);
        var ids = new[] { 1, 5, 2, 7, 3, 9, 4, 0, 6, 2 };
        var batch = padded
            ? TokenBatch.LeftPadded([ids[..5], ids[5..8]], padId: 0)
            : new TokenBatch(2, 5, ids);
        var targets = Enumerable.Range(0, batch.Ids.Length).Select(i => (i * 7 + 3) % config.VocabSize).ToArray();
        var parameters = weights.Parameters().Select(p => p.Tensor).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToArray();
        GradCheck.Check((cx, _) =>
        {
            var logits = model.Forward(cx, batch);
            return cx.CrossEntropy(cx.Reshape(logits, batch.Ids.Length, config.VocabSize), targets);
        }, parameters, eps: 1e-2, tolerance: 3e-2, maxProbes: 12);
    }
}

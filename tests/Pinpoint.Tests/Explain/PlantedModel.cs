using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// A random model pruned so that one head (L1H0) carries the only path from an earlier token to the last position,
/// and one neuron (L0N5) is the only live MLP neuron. Target 7 and foil 8 appear nowhere in the prompts.
/// </summary>
public static class PlantedModel
{
    public const int LiveLayer = 1, LiveHead = 0, LiveNeuron = 5, Target = 7, Foil = 8;
    public static readonly int[] Clean = [1, 2, 3, 4, 5, 6];
    public static readonly int[] Counterfactual = [1, 9, 3, 4, 5, 6];

    /// <param name="linear">
    /// Also make the logit difference affine in the embedding output: zero query and key weights (uniform attention),
    /// no MLP output, and norms whose epsilon swamps the variance (their weights scaled up to keep magnitudes).
    /// </param>
    public static HookedTransformer Build(bool linear = false)
    {
        const float LinearEps = 1e6f;
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32,
            VocabSize = 12, ContextLength = 16, NormEps = linear ? LinearEps : 1e-5f,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 11);
        var rng = new Random(3);
        foreach (var (_, t) in w.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.8);
        }
        for (int l = 0; l < config.NLayers; l++)
        {
            var b = w.Blocks[l];
            var o = b.Attention.O.Weight.Span; // Conv1D [H·d_head, d_model]: rows h·d_head.. belong to head h
            for (int h = 0; h < config.NHeads; h++)
                if (l != LiveLayer || h != LiveHead) o.Slice(h * config.DHead * config.DModel, config.DHead * config.DModel).Clear();
            b.Attention.O.Bias!.Span.Clear();
            var mlpOut = b.Mlp!.Out.Weight.Span; // [d_mlp, d_model]
            for (int n = 0; n < config.DMlp; n++)
                if (linear || l != 0 || n != LiveNeuron) mlpOut.Slice(n * config.DModel, config.DModel).Clear();
            b.Mlp.Out.Bias!.Span.Clear();
            if (!linear) continue;
            var qkv = b.Attention.Qkv!; // Conv1D [d_model, q | k | v]
            var weight = qkv.Weight.Span;
            for (int row = 0; row < config.DModel; row++) weight.Slice(row * 3 * config.DModel, 2 * config.DModel).Clear();
            qkv.Bias!.Span[..(2 * config.DModel)].Clear();
        }
        if (linear)
            foreach (var norm in w.Blocks.SelectMany(b => new[] { b.Ln1, b.Ln2! }).Append(w.FinalNorm))
            {
                var s = norm.Weight.Span;
                for (int i = 0; i < s.Length; i++) s[i] *= MathF.Sqrt(LinearEps);
            }
        return new HookedTransformer(config, w);
    }
}

using Pinpoint.Interpretability.Editing;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Editing;

public class CausalTraceTests
{
    private const int PlantedLayer = 1;

    /// <summary>
    /// A random 3-layer model whose MLPs are all but silenced except in <see cref="PlantedLayer"/>: the only MLP that can
    /// carry the subject's identity onward is the planted one.
    /// </summary>
    private static HookedTransformer Planted()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = 3, NHeads = 2, NKvHeads = 2, DHead = 8, DMlp = 32, VocabSize = 12, ContextLength = 16,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 4);
        var rng = new Random(8);
        foreach (var (_, t) in w.Parameters())
        {
            var s = t.Span;
            for (int i = 0; i < s.Length; i++) s[i] += (float)((rng.NextDouble() - 0.5) * 0.8);
        }
        for (int l = 0; l < config.NLayers; l++)
        {
            float scale = l == PlantedLayer ? 3f : 0.01f;
            foreach (var t in new[] { w.Blocks[l].Mlp!.Out.Weight, w.Blocks[l].Mlp!.Out.Bias! })
            {
                var s = t.Span;
                for (int i = 0; i < s.Length; i++) s[i] *= scale;
            }
        }
        return new HookedTransformer(config, w);
    }

    [Fact]
    public void TracingFindsThePlantedMlpLayerAtTheSubject()
    {
        var model = Planted();
        int[] ids = [1, 2, 3, 4, 5, 6];
        var r = CausalTrace.Trace(model, ids, start: 1, end: 3, answerId: null, new CausalTraceOptions { Samples = 8, Window = 1, Seed = 1 });
        Assert.True(r.CleanProbability - r.CorruptedProbability > 0.02, $"the noise must hurt: clean {r.CleanProbability}, corrupted {r.CorruptedProbability}");
        double Best(int layer) => r.Mlp[layer].Max();
        Assert.Equal(PlantedLayer, Enumerable.Range(0, 3).OrderByDescending(Best).First());
        Assert.True(Best(PlantedLayer) > 5 * Math.Max(Math.Abs(Best(0)), Math.Abs(Best(2))), string.Join(" | ", r.Mlp.Select(row => string.Join(", ", row.Select(v => v.ToString("F3"))))));
        // Positions before the subject carry nothing of it.
        Assert.Equal(0, r.Mlp[PlantedLayer][0], 9);
        // Restoring the whole residual stream at the last position after the last layer restores the clean run.
        Assert.Equal(r.CleanProbability - r.CorruptedProbability, r.Residual[2][^1], 5);
    }

    [Fact]
    public void WindowsAreCentredAndClipped()
    {
        var c = Planted().Config;
        Assert.Equal([HookNames.MlpOut(0), HookNames.MlpOut(1)], CausalTrace.Restored(CausalTrace.StateKind.Mlp, 0, 2, 3, c).Select(x => x.Hook));
        Assert.Equal([HookNames.AttnOut(0), HookNames.AttnOut(1), HookNames.AttnOut(2)], CausalTrace.Restored(CausalTrace.StateKind.Attention, 1, 2, 3, c).Select(x => x.Hook));
        Assert.Equal([HookNames.ResidPost(2)], CausalTrace.Restored(CausalTrace.StateKind.Residual, 2, 0, 3, c).Select(x => x.Hook));
    }
}

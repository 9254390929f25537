using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Models;

/// <summary>Replacing a norm's hook_scale (TransformerLens's divisor) rescales that norm's output row by row.</summary>
public class HookScaleTests
{
    [Theory]
    [InlineData("models/gpt2-random")]
    [InlineData("models/stories260K/stories260K.bin")]
    public void DoublingTheScaleHalvesTheNormalizedOutput(string path)
    {
        using var loaded = ModelLoader.Load(SharedData.Require(path));
        var m = loaded.Model;
        var batch = TokenBatch.Single(loaded.Encode("Once upon a time"));
        string scaleHook = HookNames.Ln2Scale(0), normalized = HookNames.Ln2Normalized(0);
        var (_, clean) = m.RunWithCache(batch, n => n == normalized);
        var hooks = new HookSet(n => n == normalized);
        hooks.Add(scaleHook, (scale, _) =>
        {
            var doubled = scale.Clone();
            foreach (ref var v in doubled.Span) v *= 2;
            return doubled;
        });
        m.Forward(Pinpoint.Engine.Autograd.Compute.Eager, batch, hooks);
        var bias = m.Weights.Blocks[0].Ln2!.Bias?.ToArray() ?? new float[m.Config.DModel];
        var before = clean[normalized].ToArray();
        var after = hooks.Cache[normalized].ToArray();
        for (int i = 0; i < before.Length; i++)
        {
            double expected = (before[i] - bias[i % bias.Length]) / 2 + bias[i % bias.Length];
            Assert.True(Math.Abs(after[i] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"element {i}: {after[i]} vs {expected}");
        }
    }
}

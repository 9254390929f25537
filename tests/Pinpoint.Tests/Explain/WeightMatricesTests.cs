using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>
/// The [in, out] windows onto stored weights reproduce the model's own activations, on stories260K (llama2.c:
/// [out, in] layout, separate q/k/v projections, grouped-query attention, gated MLP, no biases).
/// </summary>
public class WeightMatricesTests
{
    [Fact]
    public void WindowsReproduceTheHookedActivations()
    {
        using var loaded = ModelLoader.Load(SharedData.Require("models/stories260K/stories260K.bin"));
        var m = loaded.Model;
        var c = m.Config;
        var (_, cache) = m.RunWithCache(TokenBatch.Single([1, 403, 407, 261, 378, 300]));
        var matrices = WeightMatrices.All(c, m.Weights).ToDictionary(x => x.Name);
        const int Layer = 1;
        int len = 6;

        // [T, in] · [in, out] against a hooked activation viewed as [T, groups, out] (group g is the g-th head).
        void Check(string activation, Tensor input, int group, string matrix)
        {
            var w = matrices[matrix];
            var product = Compute.Eager.MatMul(input, Tensor.FromArray(w.ToArray(), w.Rows, w.Columns)).ToArray();
            var hooked = cache[activation].ToArray();
            int groups = hooked.Length / (len * w.Columns);
            for (int t = 0; t < len; t++)
                for (int j = 0; j < w.Columns; j++)
                    Assert.Equal(hooked[(t * groups + group) * w.Columns + j], product[t * w.Columns + j], 3);
        }

        var ln1 = cache[HookNames.Ln1Normalized(Layer)].Reshape(len, c.DModel);
        Check(HookNames.Q(Layer), ln1, c.NHeads - 1, $"blocks.{Layer}.attn.W_Q[h{c.NHeads - 1}]");
        Check(HookNames.K(Layer), ln1, c.NKvHeads - 1, $"blocks.{Layer}.attn.W_K[h{c.NKvHeads - 1}]");
        Check(HookNames.V(Layer), ln1, c.NKvHeads - 1, $"blocks.{Layer}.attn.W_V[h{c.NKvHeads - 1}]");
        var z = cache[HookNames.Z(Layer)].Reshape(len, c.NHeads, c.DHead);
        Check(HookNames.Result(Layer), z.Select(1, 1).Contiguous(), 1, $"blocks.{Layer}.attn.W_O[h1]");
        var ln2 = cache[HookNames.Ln2Normalized(Layer)].Reshape(len, c.DModel);
        Check(HookNames.MlpPre(Layer), ln2, 0, $"blocks.{Layer}.mlp.W_gate");
        Check(HookNames.MlpPreLinear(Layer), ln2, 0, $"blocks.{Layer}.mlp.W_in");
        Check(HookNames.MlpOut(Layer), cache[HookNames.MlpPost(Layer)].Reshape(len, c.DMlp), 0, $"blocks.{Layer}.mlp.W_out");
    }
}

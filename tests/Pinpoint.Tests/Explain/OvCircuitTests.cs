using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Explain;

/// <summary>The weight-only OV readout on one-head models whose OV circuit is planted exactly.</summary>
public class OvCircuitTests
{
    private const int Vocab = 12, DModel = 16;

    /// <summary>
    /// One layer, one head of width d_model; token t embeds as basis vector t (tied unembedding), W_V = I and W_O maps
    /// basis vector i to basis vector <paramref name="map"/>(i) (times <paramref name="sign"/>) for the token dimensions.
    /// </summary>
    private static HookedTransformer OneHead(Func<int, int> map, float sign = 1f)
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = DModel, NLayers = 1, NHeads = 1, NKvHeads = 1, DHead = DModel, DMlp = 8,
            VocabSize = Vocab, ContextLength = 8,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 5);
        var embedding = w.Embedding.Span;
        embedding.Clear();
        for (int t = 0; t < Vocab; t++) embedding[t * DModel + t] = 1f;
        var qkv = w.Blocks[0].Attention.Qkv!.Weight.Span; // Conv1D [d_model, q | k | v]
        var o = w.Blocks[0].Attention.O.Weight.Span;      // Conv1D [d_head, d_model]
        o.Clear();
        for (int i = 0; i < DModel; i++)
        {
            qkv.Slice(i * 3 * DModel + 2 * DModel, DModel).Clear();
            qkv[i * 3 * DModel + 2 * DModel + i] = 1f;
            o[i * DModel + (i < Vocab ? map(i) : i)] = i < Vocab ? sign : 1f;
        }
        return new HookedTransformer(config, w);
    }

    private static int Argmax(float[] row) => Array.IndexOf(row, row.Max());

    [Fact]
    public void AnIdentityCircuitCopiesEveryToken()
    {
        var model = OneHead(i => i);
        var circuit = OvCircuits.Circuit(model, 0, 0);
        for (int t = 0; t < Vocab; t++) Assert.Equal(t, Argmax(circuit([t])));
        Assert.Equal(1.0, OvCircuits.CopyingScore(model.Config, circuit, Vocab));
    }

    [Fact]
    public void AShiftCircuitPromotesTheNextTokenAndCopiesNothing()
    {
        var model = OneHead(i => (i + 1) % Vocab);
        var circuit = OvCircuits.Circuit(model, 0, 0);
        for (int t = 0; t < Vocab; t++) Assert.Equal((t + 1) % Vocab, Argmax(circuit([t])));
        // A token ties with every other non-successor at the bottom of its row, which does not count as copying.
        Assert.Equal(0.0, OvCircuits.CopyingScore(model.Config, circuit, Vocab));
    }

    [Fact]
    public void ANegatedIdentitySuppressesTheTokenItself()
    {
        var model = OneHead(i => i, sign: -1f);
        var circuit = OvCircuits.Circuit(model, 0, 0);
        for (int t = 0; t < Vocab; t++)
        {
            var row = circuit([t]);
            Assert.Equal(t, Array.IndexOf(row, row.Min()));
        }
        Assert.Equal(0.0, OvCircuits.CopyingScore(model.Config, circuit, Vocab));
    }
}

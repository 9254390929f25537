using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Reports;

namespace Pinpoint.Tests.Circuits;

public class QkCircuitTests
{
    [Fact]
    public void AHeadWhoseKeysReadAPermutationFavoursThePermutedToken()
    {
        // One-hot embeddings; query dimension i reads token i, key dimension i reads token σ(i): from destination a the
        // QK circuit scores source b as [b = σ(a)] / √d_head, and every other token 0.
        int[] sigma = [3, 5, 0, 1, 2, 4];
        const int N = 6;
        var config = new TransformerConfig
        {
            Architecture = "planted", DModel = N, NLayers = 1, NHeads = 1, NKvHeads = 1, DHead = N, DMlp = 0, VocabSize = N, ContextLength = 4,
            Norm = NormKind.RmsNorm, AttentionOnly = true,
        };
        Tensor Matrix(Func<int, int> inputOf)
        {
            var m = new float[N * N];
            for (int i = 0; i < N; i++) m[inputOf(i) * N + i] = 1;
            return Tensor.FromArray(m, N, N);
        }
        Linear Identity() => new(Matrix(i => i), OutIn: false);
        var ones = new NormWeights(Tensor.FromArray(Enumerable.Repeat(1f, N).ToArray(), N), null);
        var weights = new TransformerWeights
        {
            Embedding = Matrix(i => i),
            PositionEmbedding = Tensor.Zeros(4, N),
            Blocks = [new BlockWeights(ones, new AttentionWeights { Q = Identity(), K = new Linear(Matrix(i => sigma[i]), OutIn: false), V = Identity(), O = Identity() }, null, null)],
            FinalNorm = ones,
            Unembed = Identity(),
        };
        var names = Enumerable.Range(0, N).Select(i => $"t{i}").ToArray();
        var qk = new QkCircuits(new HookedTransformer(config, weights), new NastyTokenReport.WordListTokenizer(names));
        for (int a = 0; a < N; a++)
        {
            var read = qk.Read(0, 0, a, top: 2);
            Assert.Equal($"t{a}", read.DestinationToken);
            Assert.Equal($"t{sigma[a]}", read.Favours[0].Token);
            Assert.Equal(1 / Math.Sqrt(N), read.Favours[0].Score, 5);
            Assert.Equal(0, read.Favours[1].Score, 5);
        }
    }
}

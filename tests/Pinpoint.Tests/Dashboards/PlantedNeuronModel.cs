using Pinpoint.Cli;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Dashboards;

/// <summary>
/// A 1-layer GPT-2-style model on the embedded tokenizer whose neuron <see cref="Neuron"/> fires on token
/// <see cref="Token"/> only: that token's embedding alone has a large coordinate 0 (every other embedding and
/// position row has 0 there), attention writes nothing, and the neuron reads coordinate 0 of the normalised
/// residual with a bias that keeps it below zero everywhere else.
/// </summary>
public sealed class PlantedNeuronModel : IDisposable
{
    public const int DModel = 32, DMlp = 16, Neuron = 5, Token = 1234;

    private readonly LoadedModel _embedded;

    public PlantedNeuronModel()
    {
        _embedded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = DModel, NLayers = 1, NHeads = 2, NKvHeads = 2, DHead = DModel / 2, DMlp = DMlp,
            VocabSize = _embedded.Model.Config.VocabSize, ContextLength = 64, AddBos = false,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 3);
        var embedding = w.Embedding.Span;
        for (int t = 0; t < config.VocabSize; t++) embedding[t * DModel] = t == Token ? 10f : 0f;
        var positions = w.PositionEmbedding!.Span;
        for (int p = 0; p < config.ContextLength; p++) positions[p * DModel] = 0f;
        var attention = w.Blocks[0].Attention;
        attention.O.Weight.Span.Clear();
        attention.O.Bias?.Span.Clear();
        var mlp = w.Blocks[0].Mlp!;
        var wIn = mlp.In.Weight.Span; // Conv1D [d_model, d_mlp]
        for (int i = 0; i < DModel; i++) wIn[i * DMlp + Neuron] = i == 0 ? 4f : 0f;
        mlp.In.Bias!.Span[Neuron] = -16f;
        Model = new LoadedModel(new HookedTransformer(config, w), _embedded.Tokenizer, "planted-neuron", TensorFileFormat.Safetensors);
    }

    public LoadedModel Model { get; }

    /// <summary>Windows of random tokens (never <see cref="Token"/>) with <see cref="Token"/> at the given (window, position) pairs.</summary>
    public static List<HarvestSequence> Windows(int count, int length, IEnumerable<(int Window, int Position)> planted, int seed)
    {
        var rng = new Random(seed);
        var windows = Enumerable.Range(0, count).Select(i => new HarvestSequence(
            Enumerable.Range(0, length).Select(_ => rng.Next(2000)).ToArray(), i)).ToList();
        foreach (var (window, position) in planted) windows[window].Ids[position] = Token;
        return windows;
    }

    public void Dispose() => _embedded.Dispose();
}

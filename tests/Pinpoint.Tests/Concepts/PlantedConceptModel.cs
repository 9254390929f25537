using System.Text.Json;
using Pinpoint.Cli;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Concepts;

/// <summary>
/// A 2-layer GPT-2-style model on the embedded model's tokenizer with a planted concept: the embedding of every
/// animal's final token gets +<see cref="Strength"/>·u and every vehicle's −Strength·u (u a fixed unit vector);
/// attention writes nothing and the only MLP neuron that writes is <see cref="Neuron"/> in layer 1, which reads u
/// and writes the unembedding direction of <see cref="PlantedToken"/>. Texts are the animal and vehicle sentences of
/// evals/concepts/nouns.jsonl whose final tokens are distinct.
/// </summary>
public sealed class PlantedConceptModel : IDisposable
{
    public const int DModel = 32, DMlp = 64, Neuron = 7, NeuronLayer = 1, PlantedToken = 4321;
    public const float Strength = 1f;

    private readonly LoadedModel _embedded;
    private readonly List<string> _folders = [];

    public PlantedConceptModel()
    {
        _embedded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        var tokenizer = _embedded.Tokenizer;
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = DModel, NLayers = 2, NHeads = 2, NKvHeads = 2, DHead = DModel / 2, DMlp = DMlp,
            VocabSize = _embedded.Model.Config.VocabSize, ContextLength = 32, AddBos = _embedded.Model.Config.AddBos,
        };
        var w = new Gpt2Adapter().CreateRandom(config, seed: 5);
        var rng = new Random(9);
        Direction = Enumerable.Range(0, DModel).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float norm = MathF.Sqrt(Direction.Sum(v => v * v));
        for (int i = 0; i < DModel; i++) Direction[i] /= norm;

        var items = new List<(string Text, string Label)>();
        var seen = new HashSet<int>();
        foreach (var line in File.ReadLines(Path.Combine(SharedData.RepoRoot, "evals", "concepts", "nouns.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var label = doc.RootElement.GetProperty("label").GetString()!;
            if (label is not ("animal" or "vehicle")) continue;
            var text = doc.RootElement.GetProperty("text").GetString()!;
            int last = _embedded.Encode(text)[^1];
            if (last == PlantedToken || !seen.Add(last)) continue;
            items.Add((text, label));
            var row = w.Embedding.Span.Slice(last * DModel, DModel);
            float sign = label == "animal" ? Strength : -Strength;
            for (int i = 0; i < DModel; i++) row[i] += sign * Direction[i];
        }
        Items = items;

        foreach (var block in w.Blocks)
        {
            block.Attention.O.Weight.Span.Clear();
            block.Mlp!.Out.Weight.Span.Clear();
        }
        var mlp = w.Blocks[NeuronLayer].Mlp!;
        var wIn = mlp.In.Weight.Span; // Conv1D [d_model, d_mlp]
        for (int i = 0; i < DModel; i++) wIn[i * DMlp + Neuron] = 8 * Direction[i];
        var target = w.Embedding.Span.Slice(PlantedToken * DModel, DModel).ToArray();
        float targetNorm = MathF.Sqrt(target.Sum(v => v * v));
        var wOut = mlp.Out.Weight.Span.Slice(Neuron * DModel, DModel); // Conv1D [d_mlp, d_model]
        for (int i = 0; i < DModel; i++) wOut[i] = 6 * target[i] / targetNorm;
        Model = new LoadedModel(new HookedTransformer(config, w), tokenizer, "planted-concept", TensorFileFormat.Safetensors);
    }

    /// <summary>The planted unit direction u (animals +, vehicles −).</summary>
    public float[] Direction { get; }

    public IReadOnlyList<(string Text, string Label)> Items { get; }

    /// <summary>The planted model with the embedded tokenizer (dispose this object, not the model: the tokenizer is shared).</summary>
    public LoadedModel Model { get; }

    /// <summary>Writes the items as a probe dataset ({"text","label"} lines) and returns its path.</summary>
    public string WriteDataset(Func<int, string>? label = null)
    {
        var folder = Directory.CreateTempSubdirectory("pinpoint-planted-").FullName;
        _folders.Add(folder);
        var path = Path.Combine(folder, "planted.jsonl");
        File.WriteAllLines(path, Items.Select((item, i) => JsonSerializer.Serialize(new { text = item.Text, label = label?.Invoke(i) ?? item.Label })));
        return path;
    }

    public static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * (double)b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    public void Dispose()
    {
        _embedded.Dispose();
        foreach (var folder in _folders) Directory.Delete(folder, recursive: true);
    }
}

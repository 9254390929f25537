using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>An architecture Pinpoint can create from scratch and write back as a standard Hugging Face checkpoint.</summary>
public interface ITrainableArchitecture : IArchitectureAdapter
{
    /// <summary>The full model configuration for a recipe's sizes, with this architecture's own conventions.</summary>
    TransformerConfig ConfigForTraining(TrainingShape shape);

    /// <summary>Fresh weights in this architecture's native layout, initialised GPT-2 style (seeded).</summary>
    TransformerWeights CreateRandom(TransformerConfig config, int seed);

    /// <summary>config.json fields that Hugging Face transformers needs to load the checkpoint unchanged.</summary>
    Dictionary<string, object> HfConfigFields(TransformerConfig config);

    /// <summary>Tensors under their Hugging Face names (tied weights written once).</summary>
    IEnumerable<(string Name, Tensor Tensor)> HfTensors(TransformerConfig config, TransformerWeights weights);
}

/// <summary>The sizes a training recipe chooses; everything else follows from the architecture.</summary>
/// <param name="DMlp">0 picks the architecture's usual width (4·d_model for GPT-2, about 8/3·d_model for a gated MLP).</param>
/// <param name="EndOfText">The document separator token, used as BOS/EOS in the written config.</param>
public sealed record TrainingShape(int DModel, int NLayers, int NHeads, int DMlp, int VocabSize, int Context, bool AttentionOnly, int? EndOfText)
{
    /// <summary>The sizes as a configuration (full multi-head attention, no BOS added: documents are separated by end-of-text); architectures add their conventions.</summary>
    public TransformerConfig Config(string architecture, int usualDMlp) => new()
    {
        Architecture = architecture,
        DModel = DModel,
        NLayers = NLayers,
        NHeads = NHeads,
        NKvHeads = NHeads,
        DHead = DModel / NHeads,
        DMlp = DMlp > 0 ? DMlp : usualDMlp,
        VocabSize = VocabSize,
        ContextLength = Context,
        BosTokenId = EndOfText,
        EosTokenId = EndOfText,
        AddBos = false,
        AttentionOnly = AttentionOnly,
    };
}

/// <summary>GPT-2-style initialisation: N(0, 0.02), residual output projections scaled by 1/√(2·layers), norms at 1.</summary>
public sealed class WeightInitializer(int seed, int layers)
{
    private readonly Random _random = new(seed);
    private readonly float _residualStd = 0.02f / MathF.Sqrt(2 * layers);

    public Tensor Normal(float std, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i += 2)
        {
            // Box–Muller gives two independent normals per pair of uniforms.
            double u1 = 1.0 - _random.NextDouble(), u2 = _random.NextDouble();
            double r = Math.Sqrt(-2 * Math.Log(u1));
            s[i] = (float)(std * r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < s.Length) s[i + 1] = (float)(std * r * Math.Sin(2 * Math.PI * u2));
        }
        return Param(t);
    }

    public Tensor Weight(params int[] shape) => Normal(0.02f, shape);

    public Tensor ResidualWeight(params int[] shape) => Normal(_residualStd, shape);

    public static Tensor Ones(int n) => Param(Tensor.Full(1f, n));

    public static Tensor Zeros(int n) => Param(Tensor.Zeros(n));

    private static Tensor Param(Tensor t)
    {
        t.RequiresGrad = true;
        return t;
    }
}

using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Gemma: Llama layout with (1 + w) RMSNorm, embeddings scaled by √d_model and a GeGLU (tanh) MLP.</summary>
public sealed class GemmaAdapter : LlamaLayoutAdapter
{
    public override string Name => "gemma";
    public override IReadOnlyList<string> HfModelTypes { get; } = ["gemma"];

    public override TransformerConfig ConfigFromHf(HfConfig c)
    {
        var config = base.ConfigFromHf(c);
        return config with
        {
            NormAddsOne = true,
            EmbeddingScale = MathF.Sqrt(config.DModel),
            Activation = ActivationNames.Parse(c.RawString("hidden_activation") ?? "gelu_pytorch_tanh", c.Path),
        };
    }
}

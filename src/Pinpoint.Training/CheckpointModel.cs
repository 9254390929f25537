using System.Security.Cryptography;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Training;

/// <summary>What a checkpoint folder holds, in the terms used to refuse mixing checkpoints of different models.</summary>
public static class CheckpointModel
{
    /// <summary>The model described by the folder's Hugging Face config.json.</summary>
    public static TransformerConfig Config(string folder)
    {
        var configPath = Path.Combine(folder, "config.json");
        var hf = HfConfig.Read(configPath);
        return ArchitectureRegistry.ForHfModelType(hf.ModelType ?? throw new ModelConfigException($"{configPath}: model_type is missing"), configPath).ConfigFromHf(hf);
    }

    /// <summary>The shape that must match for two checkpoints to be the same model (equal strings: same shape).</summary>
    public static string Describe(TransformerConfig c) =>
        $"{c.Architecture} d{c.DModel}×{c.NLayers} layers, {c.NHeads} heads, d_mlp {c.DMlp}, vocab {c.VocabSize}, context {c.ContextLength}";

    public static string TokenizerHash(string tokenizerJson) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(tokenizerJson)));
}

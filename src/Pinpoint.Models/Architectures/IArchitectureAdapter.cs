using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Maps one architecture's Hugging Face config and tensor names onto the canonical transformer.</summary>
public interface IArchitectureAdapter
{
    /// <summary>Canonical name (also the GGUF general.architecture value where llama.cpp supports it).</summary>
    string Name { get; }

    /// <summary>config.json model_type values this adapter reads.</summary>
    IReadOnlyList<string> HfModelTypes { get; }

    TransformerConfig ConfigFromHf(HfConfig config);

    TransformerWeights WeightsFromHf(TransformerConfig config, ITensorSource tensors);
}

public static class ArchitectureRegistry
{
    public static IReadOnlyList<IArchitectureAdapter> All { get; } =
        [new Gpt2Adapter(), new LlamaAdapter(), new Qwen2Adapter(), new GptNeoXAdapter(), new GemmaAdapter()];

    public static string SupportedList => string.Join(", ", All.SelectMany(a => a.HfModelTypes));

    public static IArchitectureAdapter ForHfModelType(string modelType, string source) =>
        All.FirstOrDefault(a => a.HfModelTypes.Contains(modelType, StringComparer.OrdinalIgnoreCase))
        ?? throw new ModelConfigException($"{source}: unsupported architecture '{modelType}' (supported: {SupportedList})");

    public static IArchitectureAdapter ByName(string name, string source) =>
        All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ModelConfigException($"{source}: unsupported architecture '{name}' (supported: {string.Join(", ", All.Select(a => a.Name))})");
}

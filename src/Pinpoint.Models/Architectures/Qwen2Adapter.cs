using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Qwen2: Llama layout with q/k/v biases (picked up from the tensors) and no BOS by default.</summary>
public sealed class Qwen2Adapter : LlamaLayoutAdapter
{
    public override string Name => "qwen2";
    public override IReadOnlyList<string> HfModelTypes { get; } = ["qwen2"];

    public override TransformerConfig ConfigFromHf(HfConfig c) => base.ConfigFromHf(c) with { AddBos = false };
}

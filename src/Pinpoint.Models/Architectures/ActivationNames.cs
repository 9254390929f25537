using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Hugging Face activation names (hidden_act / activation_function) → canonical activations.</summary>
public static class ActivationNames
{
    public static Activation Parse(string name, string source) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" or "gelu_tanh" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        "silu" or "swish" => Activation.Silu,
        _ => throw new ModelConfigException($"{source}: unsupported activation '{name}' (supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, silu)"),
    };
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>Which activations meet quantized weights in products of several rows.</summary>
public enum QuantizedPrefillMode
{
    /// <summary>
    /// The default: 8-bit activations where the weights have an interleaved-panel kernel (<see cref="QuantizedPanelGemm"/>:
    /// Q8_0, Q4_K, Q5_K, Q6_K), f32 activations on the others (Q4_0).
    /// </summary>
    Auto,

    /// <summary>f32 activations against weight panels dequantized while packing (<see cref="Gemm"/>): exact up to f32 rounding.</summary>
    F32,

    /// <summary>8-bit activations on every quantized type (<see cref="QuantizedGemm"/>), as decode and llama.cpp use.</summary>
    Int8,
}

/// <summary>
/// The prefill choice for quantized weights. <see cref="QuantizedPrefillMode.Auto"/> takes 8-bit activations where
/// they measured faster than the f32 GEMM on this project's Zen 4 (README, "Quantized GGUF weights"): the interleaved
/// panels of Q8_0 and the K-quants. Q4_0 keeps f32 activations unless <see cref="QuantizedPrefillMode.Int8"/> asks.
/// The choice is the same with and without a gradient tape (the forward values must not depend on it); gradients
/// w.r.t. the activations take the dequantized f32 weights.
/// </summary>
public static class QuantizedPrefill
{
    /// <summary>The environment variable that picks the mode: auto, f32 or int8 (case-insensitive).</summary>
    public const string EnvironmentVariable = "PINPOINT_QUANTIZED_PREFILL";

    [ThreadStatic] private static QuantizedPrefillMode? t_override;

    private static readonly QuantizedPrefillMode FromEnvironment = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>The mode on this thread: an override from <see cref="Use"/>, else the environment's choice.</summary>
    public static QuantizedPrefillMode Mode => t_override ?? FromEnvironment;

    /// <summary>Whether products with <paramref name="weights"/> of this type take 8-bit activations on this thread.</summary>
    public static bool UsesInt8(DType weights) => weights.IsQuantized() && Mode switch
    {
        QuantizedPrefillMode.Int8 => true,
        QuantizedPrefillMode.Auto => QuantizedPanelGemm.Supports(weights),
        _ => false,
    };

    /// <summary>Runs products started on this thread in <paramref name="mode"/> until the returned scope is disposed.</summary>
    public static IDisposable Use(QuantizedPrefillMode mode)
    {
        var scope = new Scope(t_override);
        t_override = mode;
        return scope;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the variable when <paramref name="requested"/> is not a mode.</summary>
    public static void CheckRequest(string? requested) => Parse(requested);

    private static QuantizedPrefillMode Parse(string? requested)
    {
        if (string.IsNullOrEmpty(requested)) return QuantizedPrefillMode.Auto;
        foreach (var mode in Enum.GetValues<QuantizedPrefillMode>())
            if (mode.ToString().Equals(requested, StringComparison.OrdinalIgnoreCase)) return mode;
        throw new ArgumentException($"{EnvironmentVariable}={requested} is not a quantized prefill mode (use auto, f32 or int8; or unset it)");
    }

    private sealed class Scope(QuantizedPrefillMode? previous) : IDisposable
    {
        public void Dispose() => t_override = previous;
    }
}

namespace Pinpoint.Engine.Kernels;

/// <summary>Which activations meet quantized weights in products of several rows when no gradient is recorded.</summary>
public enum QuantizedPrefillMode
{
    /// <summary>f32 activations against weight panels dequantized while packing (<see cref="Gemm"/>): exact up to f32 rounding.</summary>
    F32,

    /// <summary>8-bit activations per 32 values against the blocks (<see cref="QuantizedGemm"/>), as decode and llama.cpp use.</summary>
    Int8,
}

/// <summary>
/// The prefill choice for quantized weights. The default is <see cref="QuantizedPrefillMode.F32"/>: without a VNNI
/// instruction (.NET 10 exposes none for AVX-512 CPUs), the 8-bit kernel spends about as many vector instructions
/// per multiply-add as the f32 GEMM (byte multiply-add, word multiply-add, convert, scale per 32 values) and
/// measured slower on this project's Zen 4 (README, "Quantized GGUF weights"); it is there for CPUs and runtimes
/// where it wins, and to compare.
/// </summary>
public static class QuantizedPrefill
{
    /// <summary>The environment variable that picks the mode: f32 or int8 (case-insensitive).</summary>
    public const string EnvironmentVariable = "PINPOINT_QUANTIZED_PREFILL";

    [ThreadStatic] private static QuantizedPrefillMode? t_override;

    private static readonly QuantizedPrefillMode FromEnvironment = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>The mode on this thread: an override from <see cref="Use"/>, else the environment's choice.</summary>
    public static QuantizedPrefillMode Mode => t_override ?? FromEnvironment;

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
        if (string.IsNullOrEmpty(requested)) return QuantizedPrefillMode.F32;
        foreach (var mode in Enum.GetValues<QuantizedPrefillMode>())
            if (mode.ToString().Equals(requested, StringComparison.OrdinalIgnoreCase)) return mode;
        throw new ArgumentException($"{EnvironmentVariable}={requested} is not a quantized prefill mode (use f32 or int8; or unset it)");
    }

    private sealed class Scope(QuantizedPrefillMode? previous) : IDisposable
    {
        public void Dispose() => t_override = previous;
    }
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// The ggml tensor types Pinpoint reads and writes, and the engine storage kind each becomes. Quantized types stay
/// in their blocks (memory-mapped); their layouts, decoders and encoders are <see cref="Engine.Kernels.BlockQuantization"/>.
/// </summary>
public static class GgufQuantization
{
    public static IReadOnlyList<GgmlType> Supported { get; } =
        [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static string SupportedList => string.Join(", ", Supported);

    public static bool IsSupported(GgmlType type) => Supported.Contains(type);

    public static DType ToDType(GgmlType type) => type switch
    {
        GgmlType.F32 => DType.F32,
        GgmlType.F16 => DType.F16,
        GgmlType.BF16 => DType.BF16,
        GgmlType.Q8_0 => DType.Q8_0,
        GgmlType.Q4_0 => DType.Q4_0,
        GgmlType.Q4_K => DType.Q4_K,
        GgmlType.Q5_K => DType.Q5_K,
        GgmlType.Q6_K => DType.Q6_K,
        _ => throw new NotSupportedException($"ggml type {(Enum.IsDefined(type) ? type.ToString() : "")} ({(uint)type}) is not supported; Pinpoint reads {SupportedList}"),
    };

    public static GgmlType ToGgml(DType dtype) => dtype switch
    {
        DType.F32 => GgmlType.F32,
        DType.F16 => GgmlType.F16,
        DType.BF16 => GgmlType.BF16,
        DType.Q8_0 => GgmlType.Q8_0,
        DType.Q4_0 => GgmlType.Q4_0,
        DType.Q4_K => GgmlType.Q4_K,
        DType.Q5_K => GgmlType.Q5_K,
        DType.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };
}

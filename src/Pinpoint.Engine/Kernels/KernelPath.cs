using System.Runtime.Intrinsics.X86;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Which instruction set a kernel runs on, slowest first. Every kernel runs on all of them; tests compare them.
/// <see cref="Vector128"/> is the portable 128-bit path (SSE on x86 without AVX2, AdvSimd on ARM).
/// </summary>
public enum KernelPath
{
    Scalar,
    Vector128,
    Avx2,
    Avx512,
}

public static class KernelPaths
{
    /// <summary>The environment variable that lowers the kernel path: scalar, vector128, avx2 or avx512 (case-insensitive).</summary>
    public const string EnvironmentVariable = "PINPOINT_KERNEL";

    /// <summary>The fastest path this CPU supports, lowered by <see cref="EnvironmentVariable"/> (for testing).</summary>
    /// <remarks>A bad value fails this type's initialisation; applications call <see cref="CheckRequest"/> first to report it cleanly.</remarks>
    public static KernelPath Best { get; } = Choose(Environment.GetEnvironmentVariable(EnvironmentVariable));

    public static bool IsSupported(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Vector128 => System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated,
        KernelPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        KernelPath.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported,
        _ => false,
    };

    public static IEnumerable<KernelPath> Supported => Enum.GetValues<KernelPath>().Where(IsSupported);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the variable when <paramref name="requested"/> is not a path this CPU runs.</summary>
    public static void CheckRequest(string? requested) => Choose(requested);

    private static KernelPath Choose(string? requested)
    {
        var best = Enum.GetValues<KernelPath>().Last(IsSupported);
        if (string.IsNullOrEmpty(requested)) return best;
        // Matched by name: Enum.TryParse would also take numbers ("7") and lists ("scalar,avx2").
        var path = Enum.GetValues<KernelPath>().FirstOrDefault(p => p.ToString().Equals(requested, StringComparison.OrdinalIgnoreCase), (KernelPath)(-1));
        if (!IsSupported(path))
            throw new ArgumentException(
                $"{EnvironmentVariable}={requested} is not a kernel path this CPU runs (use one of: {string.Join(", ", Supported.Select(p => p.ToString().ToLowerInvariant()))}; or unset it)");
        return path < best ? path : best;
    }
}

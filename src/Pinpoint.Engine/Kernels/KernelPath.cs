using System.Runtime.Intrinsics.X86;

namespace Pinpoint.Engine.Kernels;

/// <summary>Which instruction set a kernel runs on. Every kernel implements all three; tests compare them.</summary>
public enum KernelPath
{
    Scalar,
    Avx2,
    Avx512,
}

public static class KernelPaths
{
    /// <summary>The fastest path this CPU supports (PINPOINT_KERNEL=scalar|avx2|avx512 lowers it, for testing).</summary>
    public static KernelPath Best { get; } = Detect();

    public static bool IsSupported(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        KernelPath.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported,
        _ => false,
    };

    public static IEnumerable<KernelPath> Supported => Enum.GetValues<KernelPath>().Where(IsSupported);

    private static KernelPath Detect()
    {
        var best = IsSupported(KernelPath.Avx512) ? KernelPath.Avx512 : IsSupported(KernelPath.Avx2) ? KernelPath.Avx2 : KernelPath.Scalar;
        var requested = Environment.GetEnvironmentVariable("PINPOINT_KERNEL");
        if (string.IsNullOrEmpty(requested)) return best;
        if (!Enum.TryParse<KernelPath>(requested, ignoreCase: true, out var path) || !IsSupported(path))
            throw new InvalidOperationException($"PINPOINT_KERNEL={requested} is not a supported kernel path here (supported: {string.Join(", ", Supported)})");
        return path < best ? path : best;
    }
}

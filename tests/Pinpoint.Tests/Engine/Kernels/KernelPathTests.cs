using System.Runtime.Intrinsics;
using Pinpoint.Engine.Kernels;

namespace Pinpoint.Tests.Engine.Kernels;

public class KernelPathTests
{
    [Fact]
    public void PortableVectorPathIsOfferedWhereverVector128IsAccelerated()
    {
        Assert.Equal(Vector128.IsHardwareAccelerated, KernelPaths.IsSupported(KernelPath.Vector128));
        // Every AVX2 machine runs SSE, so a lowered path never lands on an unsupported one.
        if (KernelPaths.IsSupported(KernelPath.Avx2)) Assert.True(KernelPaths.IsSupported(KernelPath.Vector128));
        if (KernelPaths.IsSupported(KernelPath.Vector128))
        {
            KernelPaths.CheckRequest("vector128");
            KernelPaths.CheckRequest("Vector128");
        }
    }

    [Fact]
    public void SupportedPathsAreListedSlowestFirst()
    {
        var supported = KernelPaths.Supported.ToArray();
        Assert.Equal(KernelPath.Scalar, supported[0]);
        Assert.Equal(supported.Order().ToArray(), supported);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// RMSNorm over the last axis: x·rstd·w with rstd = 1/√(mean(x²) + eps); <paramref name="unitOffset"/> scales by
    /// (1 + w) instead, as Gemma stores its weights.
    /// </summary>
    public static Tensor RmsNorm(this Compute cx, Tensor x, Tensor weight, float eps, bool unitOffset = false)
        => Normalize(cx, nameof(RmsNorm), x, weight, null, eps, center: false, unitOffset ? 1f : 0f, out _);

    /// <summary>RMSNorm that also returns each row's rstd (last axis 1, not differentiable), for hooks.</summary>
    public static Tensor RmsNorm(this Compute cx, Tensor x, Tensor weight, float eps, bool unitOffset, out Tensor rstd)
        => Normalize(cx, nameof(RmsNorm), x, weight, null, eps, center: false, unitOffset ? 1f : 0f, out rstd);
}

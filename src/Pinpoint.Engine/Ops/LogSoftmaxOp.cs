using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Log-softmax over the last axis; saturates at -float.MaxValue instead of -inf.</summary>
    public static Tensor LogSoftmax(this Compute cx, Tensor x) => RowSoftmax(cx, nameof(LogSoftmax), x, log: true);
}

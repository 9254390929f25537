using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Elementwise activation f(x).</summary>
    public static Tensor Activate(this Compute cx, Tensor x, Activation f)
    {
        x = cx.Contiguous(x);
        var y = cx.Output(x.Shape.ToArray(), zeroed: false, x);
        Activations.Forward(f, x.Span, y.Span);
        if (y.RequiresGrad)
            cx.Tape!.Record(() => Activations.Backward(f, x.Span, cx.GradOf(y), cx.GradOf(x)));
        return y;
    }

    /// <summary>Exact (erf) GELU, Hugging Face "gelu".</summary>
    public static Tensor Gelu(this Compute cx, Tensor x) => cx.Activate(x, Activation.Gelu);

    /// <summary>Tanh-approximated GELU, "gelu_new" / "gelu_pytorch_tanh".</summary>
    public static Tensor GeluTanh(this Compute cx, Tensor x) => cx.Activate(x, Activation.GeluTanh);

    public static Tensor Silu(this Compute cx, Tensor x) => cx.Activate(x, Activation.Silu);
}

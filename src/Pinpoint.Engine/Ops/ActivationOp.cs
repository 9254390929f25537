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
        RowParallel.ForElements(x.Size, (f, x, y), static (s, i, end) =>
            Activations.Forward(s.f, s.x.Span[i..end], s.y.Span[i..end]));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // Gradient buffers are created here, on the recording thread; the workers only use them.
                cx.GradOf(y);
                cx.GradOf(x);
                RowParallel.ForElements(x.Size, (f, x, y), static (s, i, end) =>
                    Activations.Backward(s.f, s.x.Span[i..end], s.y.Grad!.Span[i..end], s.x.Grad!.Span[i..end]));
            });
        }
        return y;
    }

    /// <summary>Exact (erf) GELU, Hugging Face "gelu".</summary>
    public static Tensor Gelu(this Compute cx, Tensor x) => cx.Activate(x, Activation.Gelu);

    /// <summary>Tanh-approximated GELU, "gelu_new" / "gelu_pytorch_tanh".</summary>
    public static Tensor GeluTanh(this Compute cx, Tensor x) => cx.Activate(x, Activation.GeluTanh);

    public static Tensor Silu(this Compute cx, Tensor x) => cx.Activate(x, Activation.Silu);
}

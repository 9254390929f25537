using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>Gated MLP activation f(gate)·up (same shapes).</summary>
    public static Tensor Gated(this Compute cx, Tensor gate, Tensor up, Activation f)
    {
        gate = cx.Contiguous(gate);
        up = cx.Contiguous(up);
        ShapeCheck.Same($"{f}-gated", gate, up);
        var y = cx.Output(gate.Shape.ToArray(), zeroed: false, gate, up);
        Activations.GatedForward(f, gate.Span, up.Span, y.Span);
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() => Activations.GatedBackward(f, gate.Span, up.Span, cx.GradOf(y),
                cx.NeedsGrad(gate) ? cx.GradOf(gate) : default,
                cx.NeedsGrad(up) ? cx.GradOf(up) : default));
        }
        return y;
    }

    /// <summary>SwiGLU: silu(gate)·up.</summary>
    public static Tensor SwiGlu(this Compute cx, Tensor gate, Tensor up) => cx.Gated(gate, up, Activation.Silu);

    /// <summary>GeGLU: gelu(gate)·up, exact or (as in Gemma) tanh-approximated.</summary>
    public static Tensor GeGlu(this Compute cx, Tensor gate, Tensor up, bool tanhApproximation = false)
        => cx.Gated(gate, up, tanhApproximation ? Activation.GeluTanh : Activation.Gelu);
}

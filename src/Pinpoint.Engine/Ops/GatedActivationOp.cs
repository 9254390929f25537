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
        RowParallel.ForElements(gate.Size, (f, gate, up, y), static (s, i, end) =>
            Activations.GatedForward(s.f, s.gate.Span[i..end], s.up.Span[i..end], s.y.Span[i..end]));
        if (y.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                // Gradient buffers are created here, on the recording thread; the workers only use them.
                cx.GradOf(y);
                var gGate = cx.NeedsGrad(gate) ? gate : null;
                var gUp = cx.NeedsGrad(up) ? up : null;
                if (gGate is not null) cx.GradOf(gGate);
                if (gUp is not null) cx.GradOf(gUp);
                RowParallel.ForElements(gate.Size, (f, gate, up, y, gGate, gUp), static (s, i, end) =>
                    Activations.GatedBackward(s.f, s.gate.Span[i..end], s.up.Span[i..end], s.y.Grad!.Span[i..end],
                        s.gGate is null ? default : s.gGate.Grad!.Span[i..end],
                        s.gUp is null ? default : s.gUp.Grad!.Span[i..end]));
            });
        }
        return y;
    }

    /// <summary>SwiGLU: silu(gate)·up.</summary>
    public static Tensor SwiGlu(this Compute cx, Tensor gate, Tensor up) => cx.Gated(gate, up, Activation.Silu);

    /// <summary>GeGLU: gelu(gate)·up, exact or (as in Gemma) tanh-approximated.</summary>
    public static Tensor GeGlu(this Compute cx, Tensor gate, Tensor up, bool tanhApproximation = false)
        => cx.Gated(gate, up, tanhApproximation ? Activation.GeluTanh : Activation.Gelu);
}

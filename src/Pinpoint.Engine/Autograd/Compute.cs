using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Autograd;

/// <summary>
/// Where an op's outputs come from and whether its backward step is recorded. Ops are extension methods on
/// this type (<c>cx.MatMul(a, b)</c>). Without a tape nothing is recorded; without an arena outputs are fresh arrays.
/// </summary>
public sealed class Compute(Tape? tape = null, TensorArena? arena = null)
{
    /// <summary>A context that records nothing and allocates fresh outputs.</summary>
    public static Compute Eager => new();

    public Tape? Tape { get; } = tape;
    public TensorArena? Arena { get; } = arena;

    /// <summary>True when <paramref name="t"/> must receive a gradient from the op being run.</summary>
    public bool NeedsGrad(Tensor t) => Tape is not null && Tape.Wants(t);

    /// <summary>A zero-filled contiguous tensor.</summary>
    public Tensor Allocate(params int[] shape) => Arena?.Allocate(shape) ?? Tensor.Zeros(shape);

    /// <summary>A contiguous tensor whose contents the caller overwrites completely.</summary>
    public Tensor AllocateUninitialized(params int[] shape) => Arena?.AllocateUninitialized(shape) ?? Tensor.Zeros(shape);

    /// <summary>
    /// Allocates an op's output. When any input needs a gradient the output is marked RequiresGrad and registered
    /// with the tape, and the caller must record a backward step.
    /// </summary>
    public Tensor Output(int[] shape, bool zeroed, params ReadOnlySpan<Tensor> inputs)
    {
        var output = zeroed ? Allocate(shape) : AllocateUninitialized(shape);
        if (AnyNeedsGrad(inputs))
        {
            output.RequiresGrad = true;
            Tape!.AddIntermediate(output);
        }
        return output;
    }

    public bool AnyNeedsGrad(params ReadOnlySpan<Tensor> inputs)
    {
        if (Tape is null) return false;
        foreach (var t in inputs) if (Tape.Wants(t)) return true;
        return false;
    }

    /// <summary>Gradient buffer of <paramref name="t"/> on this context's tape.</summary>
    public Span<float> GradOf(Tensor t) => (Tape ?? throw new InvalidOperationException("no tape: gradients are not recorded")).GradOf(t);
}

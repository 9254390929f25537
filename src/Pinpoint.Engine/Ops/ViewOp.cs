using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Applies a copy-free view (Slice, Select, Transpose, Permute, View) and routes the view's gradient back to
    /// <paramref name="source"/> by applying the same view to the source's gradient buffer.
    /// </summary>
    public static Tensor AsView(this Compute cx, Tensor source, Func<Tensor, Tensor> view)
    {
        var output = view(source);
        if (!cx.NeedsGrad(source)) return output;
        output.RequiresGrad = true;
        cx.Tape!.AddIntermediate(output);
        cx.Tape.Record(() =>
        {
            cx.GradOf(source);
            view(source.Grad!).AddFrom(cx.GradOf(output));
        });
        return output;
    }

    public static Tensor Reshape(this Compute cx, Tensor t, params int[] shape)
        => cx.AsView(cx.Contiguous(t), x => x.View(shape));

    public static Tensor Slice(this Compute cx, Tensor t, int axis, int start, int length)
        => cx.AsView(t, x => x.Slice(axis, start, length));

    public static Tensor Transpose(this Compute cx, Tensor t, int axis0, int axis1)
        => cx.AsView(t, x => x.Transpose(axis0, axis1));
}

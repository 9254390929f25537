using Pinpoint.Engine.Tensors;

namespace Pinpoint.Training;

public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/> (≤ 0: no clipping) and
    /// returns the norm before clipping. Parameters without a gradient get a zero one, so optimizers can read it.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Tensor> parameters, float maxNorm)
    {
        var list = parameters as IReadOnlyList<Tensor> ?? parameters.ToList();
        double sumSquares = 0;
        foreach (var p in list)
        {
            p.Grad ??= Tensor.Zeros(p.Shape.ToArray());
            sumSquares += TensorPrimitives.SumOfSquares<float>(p.Grad.Span);
        }
        double norm = Math.Sqrt(sumSquares);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / norm);
            foreach (var p in list) TensorPrimitives.Multiply(p.Grad!.Span, scale, p.Grad.Span);
        }
        return norm;
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Lens;

/// <summary>What the model would say from a residual vector: its final norm (each row's own scale) and unembedding, as a lens reads it.</summary>
public static class LensReadout
{
    /// <summary>Logits [rows, vocab] of residual rows [rows, d_model]; records on the tape when <paramref name="cx"/> has one.</summary>
    public static Tensor Logits(HookedTransformer model, Compute cx, Tensor residuals)
    {
        var normed = model.ApplyNorm(cx, residuals, model.Weights.FinalNorm);
        var unembed = model.Weights.Unembed;
        var logits = cx.MatMul(normed, unembed.Weight, transposeB: unembed.OutIn);
        return unembed.Bias is null ? logits : cx.Add(logits, unembed.Bias);
    }

    /// <summary>KL(p ‖ q) per row, in nats, from log-probabilities [rows, vocab] of the reference p and the lens q.</summary>
    public static double[] RowKl(ReadOnlySpan<float> referenceLogProbs, ReadOnlySpan<float> lensLogProbs, int vocab)
    {
        var kl = new double[referenceLogProbs.Length / vocab];
        for (int r = 0; r < kl.Length; r++)
        {
            var p = referenceLogProbs.Slice(r * vocab, vocab);
            var q = lensLogProbs.Slice(r * vocab, vocab);
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += MathF.Exp(p[v]) * ((double)p[v] - q[v]);
            kl[r] = Math.Max(0, sum);
        }
        return kl;
    }

    /// <summary>Rows [rows, d_model] of a [batch, length, d_model] activation, as F32.</summary>
    public static Tensor Rows(Tensor activation) => activation.Contiguous().Reshape(activation.Size / activation.Dim(-1), activation.Dim(-1));
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>Next-token log-probabilities, perplexity and KL divergence of a model (with whatever interventions it carries), in double.</summary>
public static class LanguageModelling
{
    /// <summary>log softmax of the logits at the last position of <paramref name="ids"/>.</summary>
    public static double[] LastLogProbs(HookedTransformer model, int[] ids)
    {
        var logits = model.Forward(Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: true).ToArray();
        return LogSoftmax(logits);
    }

    public static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        double log = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++) result[i] = logits[i] - log;
        return result;
    }

    /// <summary>exp of the mean negative log-likelihood of every token of <paramref name="ids"/> after the first.</summary>
    public static double Perplexity(HookedTransformer model, int[] ids)
    {
        if (ids.Length < 2) throw new ArgumentException("perplexity needs at least two tokens");
        int vocab = model.Config.VocabSize;
        var logits = model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
        double nll = 0;
        for (int t = 0; t + 1 < ids.Length; t++) nll -= LogSoftmax(logits.AsSpan(t * vocab, vocab))[ids[t + 1]];
        return Math.Exp(nll / (ids.Length - 1));
    }

    /// <summary>KL(p ‖ q) of two distributions given as log-probabilities.</summary>
    public static double KlDivergence(double[] logP, double[] logQ)
    {
        double kl = 0;
        for (int i = 0; i < logP.Length; i++)
            if (logP[i] > double.NegativeInfinity) kl += Math.Exp(logP[i]) * (logP[i] - logQ[i]);
        return Math.Max(0, kl);
    }
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// Reads the target−foil logit difference off residual-stream vectors. The difference is
/// ((norm(x) ⊙ w) · Δu) + constant, with Δu the difference of the two unembedding columns. With the final norm's
/// scale frozen at the clean run's value (as TransformerLens's apply_ln_to_stack does) the readout is linear in x,
/// so it splits exactly over everything written to the residual stream.
/// </summary>
public sealed class LogitDiffReadout
{
    private readonly TransformerConfig _config;
    private readonly float[] _weightedDirection; // w ⊙ Δu
    private readonly double _constant;            // b · Δu + Δ(unembedding bias)

    public int Target { get; }
    public int Foil { get; }

    public LogitDiffReadout(HookedTransformer model, int target, int foil)
    {
        _config = model.Config;
        int v = _config.VocabSize;
        if ((uint)target >= (uint)v || (uint)foil >= (uint)v)
            throw new ArgumentException($"target {target} or foil {foil} is outside the vocabulary of {v}");
        if (target == foil) throw new ArgumentException($"target and foil are the same token ({target})");
        Target = target;
        Foil = foil;
        var w = model.Weights;
        var delta = UnembedColumn(w.Unembed, target).Zip(UnembedColumn(w.Unembed, foil), (a, b) => (double)a - b).ToArray();
        var normWeight = w.FinalNorm.Weight.ToArray();
        float offset = _config.NormAddsOne ? 1f : 0f;
        _weightedDirection = new float[_config.DModel];
        for (int i = 0; i < delta.Length; i++) _weightedDirection[i] = (float)((normWeight[i] + offset) * delta[i]);
        double constant = 0;
        if (w.FinalNorm.Bias is { } bias)
        {
            var b = bias.ToArray();
            for (int i = 0; i < delta.Length; i++) constant += b[i] * delta[i];
        }
        if (w.Unembed.Bias is { } ub) constant += ub[target] - ub[foil];
        _constant = constant;
    }

    /// <summary>The same difference as a metric for patching and ablation (read off the logits, not the residual stream).</summary>
    public static implicit operator AnswerMetric(LogitDiffReadout readout) => AnswerMetric.LogitDiff(readout.Target, readout.Foil);

    /// <summary>Δu: the target's unembedding column minus the foil's.</summary>
    public static float[] UnembedColumn(Linear unembed, int token)
    {
        var column = unembed.OutIn ? unembed.Weight.Select(0, token) : unembed.Weight.Select(1, token);
        return column.ToArray();
    }

    /// <summary>The bias part of the difference, independent of the residual stream.</summary>
    public double Constant => _constant;

    /// <summary>The difference the model's own final norm gives for residual vector <paramref name="x"/> (logit lens).</summary>
    public double Full(ReadOnlySpan<float> x) => Linear(x, Scale(x)) + _constant;

    /// <summary>The final norm's divisor for <paramref name="x"/>: √(var + eps) for LayerNorm, √(mean x² + eps) for RMSNorm.</summary>
    public double Scale(ReadOnlySpan<float> x)
    {
        double mean = 0, sq = 0;
        foreach (var v in x) mean += v;
        mean /= x.Length;
        bool center = _config.Norm == NormKind.LayerNorm;
        foreach (var v in x)
        {
            double c = center ? v - mean : v;
            sq += c * c;
        }
        return Math.Sqrt(sq / x.Length + _config.NormEps);
    }

    /// <summary>The linear part for one component with the scale frozen: ((c − centre(c)) / scale ⊙ w) · Δu.</summary>
    public double Linear(ReadOnlySpan<float> component, double scale)
    {
        double dot = 0, sum = 0, directionSum = 0;
        for (int i = 0; i < component.Length; i++)
        {
            dot += component[i] * (double)_weightedDirection[i];
            sum += component[i];
            directionSum += _weightedDirection[i];
        }
        if (_config.Norm == NormKind.LayerNorm) dot -= sum / component.Length * directionSum;
        return dot / scale;
    }

    /// <summary>Target−foil difference at the last position of a [1, T, V] logits tensor.</summary>
    public double FromLogits(Tensor logits)
    {
        int v = logits.Dim(-1), t = logits.Dim(-2);
        var row = logits.Contiguous().Span.Slice((t - 1) * v, v);
        return (double)row[Target] - row[Foil];
    }
}

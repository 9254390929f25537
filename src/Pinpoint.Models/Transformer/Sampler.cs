namespace Pinpoint.Models.Transformer;

/// <summary>Sampling settings: temperature 0 is greedy; top-k 0 and top-p 1 disable those filters.</summary>
public sealed record SamplingOptions(float Temperature = 0f, int TopK = 0, float TopP = 1f, int Seed = 0)
{
    public void Validate()
    {
        if (Temperature < 0 || !float.IsFinite(Temperature)) throw new ArgumentException($"temperature {Temperature} must be ≥ 0");
        if (TopK < 0) throw new ArgumentException($"top-k {TopK} must be ≥ 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p {TopP} must be in (0, 1]");
    }
}

/// <summary>Picks the next token from a logit vector; deterministic for a given seed.</summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private readonly List<(int Id, double Weight)> _candidates = [];

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _random = new Random(options.Seed);
    }

    public int Next(ReadOnlySpan<float> logits)
    {
        if (_options.Temperature == 0f) return ArgMax(logits);
        _candidates.Clear();
        for (int i = 0; i < logits.Length; i++) _candidates.Add((i, logits[i]));
        // Highest logit first; ties broken by id so the order (and thus the seeded draw) is deterministic.
        _candidates.Sort((a, b) => a.Weight != b.Weight ? b.Weight.CompareTo(a.Weight) : a.Id.CompareTo(b.Id));
        if (_options.TopK > 0 && _options.TopK < _candidates.Count) _candidates.RemoveRange(_options.TopK, _candidates.Count - _options.TopK);
        double max = _candidates[0].Weight, total = 0;
        for (int i = 0; i < _candidates.Count; i++)
        {
            double w = Math.Exp((_candidates[i].Weight - max) / _options.Temperature);
            _candidates[i] = (_candidates[i].Id, w);
            total += w;
        }
        if (_options.TopP < 1f)
        {
            double kept = 0;
            int keep = 0;
            while (keep < _candidates.Count && kept < _options.TopP * total) kept += _candidates[keep++].Weight;
            _candidates.RemoveRange(keep, _candidates.Count - keep);
            total = kept;
        }
        double draw = _random.NextDouble() * total;
        foreach (var (id, weight) in _candidates)
        {
            draw -= weight;
            if (draw < 0) return id;
        }
        return _candidates[^1].Id;
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}

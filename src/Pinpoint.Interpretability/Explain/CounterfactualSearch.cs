using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// Builds a counterfactual prompt when none is given: every earlier token is swapped, one at a time, for each of its
/// nearest neighbours in embedding space (similar tokens, so the prompt stays fluent), and the swap that lowers the
/// target−foil difference most is kept.
/// </summary>
public static class CounterfactualSearch
{
    public const int Neighbours = 16;

    public static (int[] Ids, string Text, string Origin) Build(LoadedModel loaded, int[] ids, LogitDiffReadout readout)
    {
        var tokenizer = loaded.Tokenizer;
        var embedding = loaded.Model.Weights.Embedding;
        int d = embedding.Dim(1), vocab = loaded.Model.Config.VocabSize;
        var table = embedding.ToArray();
        var norms = new double[vocab];
        for (int v = 0; v < vocab; v++) norms[v] = Math.Sqrt(Dot(table, v, v, d)) + 1e-12;

        var candidates = new List<(int Position, int Token, int[] Ids)>();
        for (int p = 0; p < ids.Length; p++)
        {
            if (tokenizer.IsSpecial(ids[p])) continue;
            int original = ids[p];
            var similarity = new double[vocab];
            for (int v = 0; v < vocab; v++) similarity[v] = Dot(table, original, v, d) / (norms[original] * norms[v]);
            var nearest = Enumerable.Range(0, Math.Min(vocab, tokenizer.VocabSize))
                .Where(v => v != original && !tokenizer.IsSpecial(v))
                .OrderByDescending(v => similarity[v])
                .Take(Neighbours);
            foreach (var v in nearest)
            {
                var swapped = (int[])ids.Clone();
                swapped[p] = v;
                candidates.Add((p, v, swapped));
            }
        }
        if (candidates.Count == 0) throw new ArgumentException("the prompt has no ordinary token to swap for a counterfactual; pass --counterfactual");
        var logits = Continuations.LastLogits(loaded, candidates.Select(c => c.Ids).ToList(), batchSize: 32);
        int best = Enumerable.Range(0, candidates.Count).MinBy(i => logits[i][readout.Target] - logits[i][readout.Foil]);
        (int position, int token, int[] chosen) = candidates[best];
        string origin = $"swapped token {position} \"{tokenizer.TokenText(ids[position])}\" for \"{tokenizer.TokenText(token)}\" " +
                        $"(the swap among {candidates.Count} nearest-embedding swaps that lowers the difference most)";
        return (chosen, tokenizer.Decode(chosen, skipSpecial: true), origin);
    }

    private static double Dot(float[] table, int a, int b, int d)
    {
        double sum = 0;
        var x = table.AsSpan(a * d, d);
        var y = table.AsSpan(b * d, d);
        for (int i = 0; i < d; i++) sum += x[i] * (double)y[i];
        return sum;
    }
}

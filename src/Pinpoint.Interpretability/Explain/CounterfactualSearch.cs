using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Interpretability.Explain;

/// <summary>One candidate counterfactual and the target − foil difference the model gives after it.</summary>
public sealed record CounterfactualCandidate(string Text, double LogitDiff);

/// <summary>A counterfactual the search chose, how, and the runners-up (best first, the chosen one included).</summary>
public sealed record CounterfactualChoice(int[] Ids, string Text, string Origin, IReadOnlyList<CounterfactualCandidate> Ranked);

/// <summary>
/// Builds a counterfactual prompt when none is given. Swaps: every earlier token is swapped, one at a time, for its
/// nearest neighbours in embedding space that are the same kind of token (same leading space, capitalisation and
/// letter/digit/punctuation class, and a vocabulary rank within a factor of <see cref="RankFactor"/>, BPE ranks
/// standing in for frequency), keeping only swaps whose text re-encodes to the same tokens; or prompts drawn from
/// a dataset with the same token length (resampling). Either way the candidates are ranked by how much they lower
/// the target − foil difference, and the best is kept.
/// </summary>
public static class CounterfactualSearch
{
    public const int Neighbours = 16;
    /// <summary>Candidates listed beside the chosen one.</summary>
    public const int Listed = 5;
    /// <summary>A swap partner's vocabulary id lies within this factor of the original's (a frequency band).</summary>
    public const double RankFactor = 4;
    /// <summary>A best single swap that keeps more than this share of the clean difference is weak: pairs of swaps are tried.</summary>
    public const double WeakShare = 0.5;
    /// <summary>How many of the best single swaps are paired (at most n(n−1)/2 pairs).</summary>
    public const int PairedSwaps = 8;

    /// <param name="forced">Tokens fed after every candidate before the readout (the answers' shared start); the swaps change the prompt only.</param>
    public static CounterfactualChoice Build(LoadedModel loaded, int[] ids, int[] forced, LogitDiffReadout readout)
    {
        var tokenizer = loaded.Tokenizer;
        var embedding = loaded.Model.Weights.Embedding;
        int d = embedding.Dim(1), vocab = Math.Min(loaded.Model.Config.VocabSize, tokenizer.VocabSize);
        var table = embedding.ToArray();
        var norms = new double[vocab];
        for (int v = 0; v < vocab; v++) norms[v] = Math.Sqrt(Dot(table, v, v, d)) + 1e-12;

        var candidates = new List<(int Position, int Token, int[] Ids)>();
        for (int p = 0; p < ids.Length; p++)
        {
            if (tokenizer.IsSpecial(ids[p])) continue;
            int original = ids[p];
            var kind = TokenKind.Of(tokenizer.TokenText(original));
            var nearest = Enumerable.Range(0, vocab)
                .Where(v => v != original && !tokenizer.IsSpecial(v) && SimilarRank(v, original) && TokenKind.Of(tokenizer.TokenText(v)) == kind)
                .OrderByDescending(v => Dot(table, original, v, d) / (norms[original] * norms[v]))
                .Take(Neighbours);
            foreach (var v in nearest)
            {
                var swapped = (int[])ids.Clone();
                swapped[p] = v;
                if (ReEncodes(loaded, swapped)) candidates.Add((p, v, swapped));
            }
        }
        if (candidates.Count == 0) throw new ArgumentException("the prompt has no token with a swap of the same kind that keeps its tokenization; give a counterfactual");
        // The clean prompt is ranked last so its difference comes from the same batch as the swaps'.
        var (ranked, diffs) = Rank(loaded, [.. candidates.Select(c => c.Ids), ids], forced, readout);
        double clean = diffs[^1];
        ranked.Remove(candidates.Count);
        var prompts = candidates.Select(c => c.Ids).ToList();
        string Swap(int position, int token) => $"{position} \"{tokenizer.TokenText(ids[position])}\" for \"{tokenizer.TokenText(token)}\"";
        var (position, token, chosen) = candidates[ranked[0]];
        double single = diffs[ranked[0]];
        var singleSwap = Choice(tokenizer, chosen,
            $"swapped token {Swap(position, token)}: the swap among {candidates.Count} same-kind nearest-embedding swaps that lowers the difference most (to {single:0.00})",
            ranked, diffs, prompts);
        if (!(clean > 0 && single > WeakShare * clean)) return singleSwap;

        // No single swap takes half the difference away: try the best single swaps two at a time.
        var best = ranked.Take(PairedSwaps).Select(i => candidates[i]).ToList();
        var pairs = new List<(int A, int B, int[] Ids)>();
        for (int a = 0; a < best.Count; a++)
            for (int b = a + 1; b < best.Count; b++)
            {
                if (best[a].Position == best[b].Position) continue;
                var both = (int[])best[a].Ids.Clone();
                both[best[b].Position] = best[b].Token;
                if (ReEncodes(loaded, both)) pairs.Add((a, b, both));
            }
        if (pairs.Count == 0) return singleSwap;
        var (pairRanked, pairDiffs) = Rank(loaded, pairs.Select(p => p.Ids).ToList(), forced, readout);
        if (pairDiffs[pairRanked[0]] >= single) return singleSwap;
        var (first, second, pair) = (best[pairs[pairRanked[0]].A], best[pairs[pairRanked[0]].B], pairs[pairRanked[0]].Ids);
        string origin = $"swapped tokens {Swap(first.Position, first.Token)} and {Swap(second.Position, second.Token)}: no single swap of {candidates.Count} lowers the difference " +
                 $"below half of {clean:0.00} (best {single:0.00}), so the {PairedSwaps} best were paired; of {pairs.Count} pairs this one lowers it most (to {pairDiffs[pairRanked[0]]:0.00})";
        // Pairs and single swaps in one ranking, best first.
        var all = prompts.Concat(pairs.Select(p => p.Ids)).ToList();
        var allDiffs = diffs[..candidates.Count].Concat(pairDiffs).ToArray();
        return Choice(tokenizer, pair, origin, Enumerable.Range(0, all.Count).OrderBy(i => allDiffs[i]).ToList(), allDiffs, all);
    }

    /// <summary>Resampling: the prompts of <paramref name="pool"/> with the prompt's token length, ranked the same way.</summary>
    public static CounterfactualChoice FromPool(LoadedModel loaded, int[] ids, int[] forced, LogitDiffReadout readout, IEnumerable<string> pool, string poolName)
    {
        var same = pool.Select(p => Continuations.EncodePrompt(loaded, p, poolName)).Where(c => c.Length == ids.Length && !c.AsSpan().SequenceEqual(ids)).ToList();
        if (same.Count == 0) throw new ArgumentException($"{poolName}: no prompt has the prompt's {ids.Length} tokens; resampling needs one of equal length");
        var (ranked, diffs) = Rank(loaded, same, forced, readout);
        string origin = $"drawn from {poolName}: of its {same.Count} prompts with {ids.Length} tokens, the one that lowers the difference most (to {diffs[ranked[0]]:0.00})";
        return Choice(loaded.Tokenizer, same[ranked[0]], origin, ranked, diffs, same);
    }

    private static (List<int> Ranked, double[] Diffs) Rank(LoadedModel loaded, List<int[]> prompts, int[] forced, LogitDiffReadout readout)
    {
        var logits = Continuations.LastLogits(loaded, prompts.Select(p => (int[])[.. p, .. forced]).ToList(), batchSize: 32);
        var diffs = logits.Select(l => (double)l[readout.Target] - l[readout.Foil]).ToArray();
        return (Enumerable.Range(0, prompts.Count).OrderBy(i => diffs[i]).ToList(), diffs);
    }

    private static CounterfactualChoice Choice(ITokenizer tokenizer, int[] chosen, string origin, List<int> ranked, double[] diffs, List<int[]> prompts) =>
        new(chosen, tokenizer.Decode(chosen, skipSpecial: true), origin,
            ranked.Take(Listed).Select(i => new CounterfactualCandidate(tokenizer.Decode(prompts[i], skipSpecial: true), diffs[i])).ToList());

    private static bool SimilarRank(int a, int b) => Math.Abs(Math.Log(a + 1.0) - Math.Log(b + 1.0)) <= Math.Log(RankFactor);

    /// <summary>Whether the swapped prompt, written out and read back, gives the same tokens (so the counterfactual text means what was patched).</summary>
    private static bool ReEncodes(LoadedModel loaded, int[] swapped)
    {
        bool bos = loaded.Model.Config.AddBos && loaded.Tokenizer.Bos is not null;
        var text = loaded.Tokenizer.Decode(swapped, skipSpecial: true);
        return loaded.Tokenizer.Encode(text, bos).AsSpan().SequenceEqual(swapped);
    }

    /// <summary>What makes two tokens the same kind: leading space, first-letter case, and character class.</summary>
    private readonly record struct TokenKind(bool LeadingSpace, bool Capital, char Class)
    {
        public static TokenKind Of(string text)
        {
            var core = text.TrimStart();
            char first = core.Length > 0 ? core[0] : ' ';
            char cls = char.IsLetter(first) ? 'a' : char.IsDigit(first) ? '0' : core.Length == 0 ? ' ' : '.';
            return new TokenKind(text.Length > 0 && char.IsWhiteSpace(text[0]), char.IsUpper(first), cls);
        }
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

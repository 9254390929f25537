using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>One probed item: the best (lowest) rank any answer's first token has at the prompt's last position.</summary>
/// <param name="Rank">1-based rank among all tokens (ties broken by lower id), of the best-ranked answer.</param>
/// <param name="BestAnswer">The answer with that rank.</param>
public sealed record ProbedItem(KnowledgeItem Item, int Rank, string BestAnswer, int AnswerId, bool Hit);

public sealed record KnowledgeReport(IReadOnlyList<ProbedItem> Items, int TopK)
{
    public double HitRate => Items.Count == 0 ? 0 : Items.Count(i => i.Hit) / (double)Items.Count;
}

/// <summary>
/// How often any answer's first token (encoded as a continuation of the prompt, see <see cref="Continuations"/>)
/// is among the model's top-k predictions at the prompt's last position.
/// </summary>
public static class KnowledgeProbe
{
    public static KnowledgeReport Probe(LoadedModel model, IReadOnlyList<KnowledgeItem> items, int topK = 5, int batchSize = Scorer.DefaultBatchSize)
    {
        if (topK < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, "top-k must be at least 1");
        var prompts = new List<int[]>(items.Count);
        var answerIds = new List<int[]>(items.Count);
        foreach (var item in items)
        {
            var prompt = Continuations.EncodePrompt(model, item.Prompt, item.Source);
            prompts.Add(prompt);
            answerIds.Add(item.Answers.Select(a => Continuations.Encode(model, item.Prompt, prompt, a, item.Source)[0]).ToArray());
        }
        var logits = Continuations.LastLogits(model, prompts, batchSize);
        var probed = new ProbedItem[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int a = 0; a < answerIds[i].Length; a++)
            {
                int rank = Rank(logits[i], answerIds[i][a]);
                if (rank < bestRank) (best, bestRank) = (a, rank);
            }
            probed[i] = new ProbedItem(items[i], bestRank, items[i].Answers[best], answerIds[i][best], bestRank <= topK);
        }
        return new KnowledgeReport(probed, topK);
    }

    /// <summary>1-based rank of <paramref name="id"/>: one more than the tokens with a higher logit, or an equal logit and a lower id.</summary>
    public static int Rank(ReadOnlySpan<float> logits, int id)
    {
        float l = logits[id];
        int rank = 1;
        for (int j = 0; j < logits.Length; j++)
            if (logits[j] > l || (logits[j] == l && j < id)) rank++;
        return rank;
    }
}

using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// The tokens whose logits a unit's output direction raises and lowers most: direction · W_U, read through the final
/// norm's weights as explain reads neurons (<see cref="Mechanisms.Unembed"/>).
/// </summary>
public static class LogitEffects
{
    private const int Chunk = 128;

    /// <summary>For each of the <paramref name="count"/> rows of <paramref name="directions"/> [count, d_model]: its <paramref name="top"/> most raised and most lowered tokens.</summary>
    public static List<(List<TokenScore> Promotes, List<TokenScore> Suppresses)> Of(HookedTransformer model, ITokenizer tokenizer, float[] directions, int count, int top)
    {
        int d = model.Config.DModel, vocab = Math.Min(model.Config.VocabSize, tokenizer.VocabSize);
        var result = new List<(List<TokenScore>, List<TokenScore>)>(count);
        for (int first = 0; first < count; first += Chunk)
        {
            int rows = Math.Min(Chunk, count - first);
            var logits = Mechanisms.Unembed(model, directions.AsSpan(first * d, rows * d).ToArray(), rows);
            for (int r = 0; r < rows; r++)
            {
                var row = logits.AsSpan(r * model.Config.VocabSize, vocab);
                result.Add((Extremes(tokenizer, row, top, highest: true), Extremes(tokenizer, row, top, highest: false)));
            }
        }
        return result;
    }

    /// <summary>The <paramref name="top"/> largest (or smallest) scores, best first, ties to the lower id; one pass with a small sorted buffer.</summary>
    internal static List<TokenScore> Extremes(ITokenizer tokenizer, ReadOnlySpan<float> scores, int top, bool highest)
    {
        top = Math.Min(top, scores.Length);
        var ids = new int[top];
        var values = new float[top];
        int n = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float v = highest ? scores[i] : -scores[i];
            if (n == top && !(v > values[n - 1])) continue;
            int j = n < top ? n++ : top - 1;
            while (j > 0 && values[j - 1] < v)
            {
                values[j] = values[j - 1];
                ids[j] = ids[j - 1];
                j--;
            }
            values[j] = v;
            ids[j] = i;
        }
        return Enumerable.Range(0, n).Select(i => new TokenScore(tokenizer.TokenText(ids[i]), highest ? values[i] : -values[i])).ToList();
    }
}

using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Interpretability.Lens;

public sealed record LensToken(string Token, int Id, double Probability);

/// <summary>One position at one stage: the lens's most likely next tokens and its KL to the model's output there.</summary>
public sealed record LensCell(LensToken[] Top, double Kl);

/// <summary>One stage read both ways; the tuned fields are null without a tuned lens. KLs are means over positions, in nats.</summary>
public sealed record LensStage(string Stage, string Hook, LensCell[] LogitLens, LensCell[]? TunedLens, double LogitLensKl, double? TunedLensKl);

/// <summary>The result of <see cref="LensAnalysis.Run"/>; <c>pinpoint lens --json</c> writes it as it is.</summary>
/// <param name="Output">The model's own next-token distribution per position (what both lenses are compared with).</param>
public sealed record LensReport(string Prompt, string[] Tokens, string? TunedLens, LensStage[] Stages, LensCell[] Output);

/// <summary>
/// The logit lens and (when given) the tuned lens over one prompt: at every stage and position, the top next
/// tokens each lens reads from the residual stream and its KL to the model's final distribution.
/// </summary>
public static class LensAnalysis
{
    public static LensReport Run(LoadedModel loaded, string prompt, TunedLens? tuned, string? tunedPath, int top = 5)
    {
        var model = loaded.Model;
        bool bos = model.Config.AddBos && loaded.Tokenizer.Bos is not null;
        var ids = loaded.Tokenizer.Encode(prompt, bos);
        if (ids.Length == 0) throw new ArgumentException("--prompt: the prompt encodes to no tokens");
        if (ids.Length > model.Config.ContextLength)
            throw new ArgumentException($"--prompt: {ids.Length} tokens exceed the model's context of {model.Config.ContextLength}");
        var (finalLogProbs, residuals) = TunedLensTrainer.Forward(model, [ids]);
        var identity = TunedLens.Identity(model.Config);
        int vocab = finalLogProbs.Dim(-1);
        LensCell[] Cells(Tensor logProbs) => Enumerable.Range(0, ids.Length).Select(t =>
        {
            var row = logProbs.Span.Slice(t * vocab, vocab);
            double kl = LensReadout.RowKl(finalLogProbs.Span.Slice(t * vocab, vocab), row, vocab)[0];
            return new LensCell(Top(loaded.Tokenizer, row, top), kl);
        }).ToArray();
        var stages = Enumerable.Range(0, identity.Stages).Select(s =>
        {
            var logit = Cells(TunedLensTrainer.StageLogProbs(model, identity, s, residuals[s]));
            var tunedCells = tuned is null ? null : Cells(TunedLensTrainer.StageLogProbs(model, tuned, s, residuals[s]));
            return new LensStage(TunedLens.StageName(s), TunedLens.StageHook(s), logit, tunedCells, logit.Average(c => c.Kl), tunedCells?.Average(c => c.Kl));
        }).ToArray();
        var tokens = ids.Select(id => loaded.Tokenizer.TokenText(id)).ToArray();
        return new LensReport(prompt, tokens, tunedPath, stages, Cells(finalLogProbs));
    }

    private static LensToken[] Top(ITokenizer tokenizer, ReadOnlySpan<float> logProbs, int k)
    {
        var best = new List<(int Id, float LogProb)>(k + 1);
        for (int v = 0; v < logProbs.Length; v++)
        {
            if (best.Count == k && logProbs[v] <= best[^1].LogProb) continue;
            float value = logProbs[v];
            int at = best.FindIndex(b => value > b.LogProb);
            best.Insert(at < 0 ? best.Count : at, (v, value));
            if (best.Count > k) best.RemoveAt(k);
        }
        return best.Select(b => new LensToken(tokenizer.TokenText(b.Id), b.Id, Math.Exp(b.LogProb))).ToArray();
    }
}

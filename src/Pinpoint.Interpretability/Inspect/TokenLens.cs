using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Inspect;

public sealed record LensToken(int Id, string Token, double Prob);

/// <param name="Stage">"embed" for the residual before block 0, else "L{n}" for block n's output.</param>
public sealed record TokenLensRow(string Stage, LensToken[] Top);

/// <summary>The logit lens in tokens: what the model would predict next at the last position if it stopped after each layer.</summary>
public sealed record TokenLensResult(string Prompt, string[] Tokens, TokenLensRow[] Rows);

/// <summary>
/// Reads the residual stream at the last position after each layer through the model's own final norm (with each
/// residual's own scale) and unembedding: the final block's output is replaced by the earlier residual, so the
/// readout is exactly the model's, one forward pass per stage.
/// </summary>
public static class TokenLens
{
    public static TokenLensResult Run(LoadedModel loaded, string prompt, int top)
    {
        var model = loaded.Model;
        var c = model.Config;
        var ids = Continuations.EncodePrompt(loaded, prompt, "prompt");
        var stages = LogitLensStages(c);
        var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), stages.Select(s => s.Hook).ToHashSet().Contains, lastPositionOnly: true);
        string last = HookNames.ResidPost(c.NLayers - 1);
        var rows = stages.Select(s =>
        {
            var residual = cache[s.Hook];
            var logits = model.RunWithHooks(TokenBatch.Single(ids), [(last, (_, _) => residual)], lastPositionOnly: true);
            return new TokenLensRow(s.Stage, Top(loaded, logits.Contiguous().Span[^c.VocabSize..], top));
        }).ToArray();
        return new TokenLensResult(prompt, ids.Select(loaded.Tokenizer.TokenText).ToArray(), rows);
    }

    private static List<(string Stage, string Hook)> LogitLensStages(TransformerConfig c) =>
        [("embed", HookNames.ResidPre(0)), .. Enumerable.Range(0, c.NLayers).Select(l => ($"L{l}", HookNames.ResidPost(l)))];

    /// <summary>The <paramref name="k"/> most likely tokens under softmax of <paramref name="logits"/>, computed in double.</summary>
    public static LensToken[] Top(LoadedModel loaded, ReadOnlySpan<float> logits, int k)
    {
        var values = logits.ToArray();
        double max = values.Max(), sum = 0;
        foreach (var l in values) sum += Math.Exp(l - max);
        return Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).Take(k)
            .Select(i => new LensToken(i, loaded.Tokenizer.TokenText(i), Math.Exp(values[i] - max) / sum)).ToArray();
    }
}

using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Inspect;

/// <param name="Patterns">[layer][head][query position][key position]: the softmax weights; rows sum to 1 over keys ≤ the query.</param>
public sealed record AttentionPatternsResult(string Prompt, string[] Tokens, int NLayers, int NHeads, float[][][][] Patterns);

/// <summary>Every head's attention pattern over a prompt (CircuitsVis's attention_patterns), from hook_pattern.</summary>
public static class AttentionPatterns
{
    /// <summary>Beyond this many tokens the patterns (layers × heads × T²) would be too large to send to a page.</summary>
    public const int MaxTokens = 256;

    public static AttentionPatternsResult Run(LoadedModel loaded, string prompt)
    {
        var model = loaded.Model;
        var c = model.Config;
        var ids = Continuations.EncodePrompt(loaded, prompt, "prompt");
        if (ids.Length > MaxTokens) throw new ArgumentException($"prompt: {ids.Length} tokens; attention patterns are drawn for at most {MaxTokens}");
        var names = Enumerable.Range(0, c.NLayers).Select(HookNames.Pattern).ToHashSet();
        var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), names.Contains, lastPositionOnly: true);
        int t = ids.Length;
        var patterns = Enumerable.Range(0, c.NLayers).Select(l =>
        {
            var values = cache[HookNames.Pattern(l)].Contiguous().ToArray(); // [1, heads, T, T]
            return Enumerable.Range(0, c.NHeads).Select(h =>
                Enumerable.Range(0, t).Select(q => values.AsSpan((h * t + q) * t, t).ToArray()).ToArray()).ToArray();
        }).ToArray();
        return new AttentionPatternsResult(prompt, ids.Select(loaded.Tokenizer.TokenText).ToArray(), c.NLayers, c.NHeads, patterns);
    }
}

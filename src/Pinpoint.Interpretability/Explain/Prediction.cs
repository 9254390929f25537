using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// A request made concrete: the prompt's token ids, target and foil as single tokens, the readout of their logit
/// difference, and the counterfactual prompt (given, or found by <see cref="CounterfactualSearch"/>) of equal length.
/// </summary>
public sealed record Prediction(
    int[] Ids, TokenChoice Target, TokenChoice Foil, LogitDiffReadout Readout, int[] CounterfactualIds, string Counterfactual, string CounterfactualOrigin)
{
    public static Prediction Prepare(LoadedModel loaded, ExplainRequest request)
    {
        var ids = Continuations.EncodePrompt(loaded, request.Prompt, "prompt");
        var target = Choice(loaded, request.Prompt, ids, request.Target, "target");
        var foil = Choice(loaded, request.Prompt, ids, request.Foil, "foil");
        if (target.Id == foil.Id)
            throw new ArgumentException($"target \"{request.Target}\" and foil \"{request.Foil}\" both start with token {target.Id} ({target.Token}); the difference would be 0");
        var readout = new LogitDiffReadout(loaded.Model, target.Id, foil.Id);

        var (cfIds, cfText, origin) = request.Counterfactual is { } given
            ? (Continuations.EncodePrompt(loaded, given, "counterfactual"), given, "given")
            : CounterfactualSearch.Build(loaded, ids, readout);
        if (cfIds.Length != ids.Length)
            throw new ArgumentException($"the counterfactual has {cfIds.Length} tokens and the prompt {ids.Length}; patching needs equal lengths (change words that tokenize alike)");
        if (cfIds.AsSpan().SequenceEqual(ids))
            throw new ArgumentException("counterfactual: it encodes to the same tokens as the prompt, so patching between them measures nothing; give a prompt where the answer changes");
        return new Prediction(ids, target, foil, readout, cfIds, cfText, origin);
    }

    private static TokenChoice Choice(LoadedModel loaded, string prompt, int[] ids, string text, string option)
    {
        var tokens = Continuations.Encode(loaded, prompt, ids, text, option);
        return new TokenChoice(text, tokens[0], loaded.Tokenizer.TokenText(tokens[0]), tokens.Length, tokens.Select(loaded.Tokenizer.TokenText).ToArray());
    }
}

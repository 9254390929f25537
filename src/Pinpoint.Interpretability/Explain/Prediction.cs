using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Explain;

/// <summary>
/// A request made concrete: the run patching works on (the prompt up to the answer position, then, for a
/// teacher-forced metric, the answer's tokens but its last — one sequence per answer the metric reads), target and foil
/// with their teacher-forced log-probabilities, the linear target − foil readout (logit lens, direct attribution), the
/// metric, and the counterfactual prompt (given, or found by <see cref="CounterfactualSearch"/>) of equal length.
/// </summary>
/// <param name="Run">What patching and ablation run on: <see cref="AnswerIds"/> plus teacher-forced answer tokens, one row per sequence the metric reads.</param>
/// <param name="Readout">Target − foil logit difference at the answer position: of the tokens where the answers first differ (see <see cref="Compared"/>).</param>
/// <param name="CounterfactualRun">The same rows with the counterfactual prompt in place of the prompt (patching pairs them position by position).</param>
public sealed record Prediction(
    TokenBatch Run, TokenChoice Target, TokenChoice Foil, LogitDiffReadout Readout, TokenBatch CounterfactualRun, string Counterfactual, string CounterfactualOrigin)
{
    /// <summary>The run's first sequence: the prompt and the target tokens it feeds (what reports show).</summary>
    public required int[] Ids { get; init; }
    /// <summary><see cref="Ids"/> with the counterfactual prompt.</summary>
    public int[] CounterfactualIds => [.. CounterfactualAnswerIds, .. Ids[AnswerIds.Length..]];
    /// <summary>
    /// The prompt up to the answer position followed by the tokens the answers share: the readouts (logit lens, direct
    /// attribution, the counterfactual search) compare the next tokens after its last.
    /// </summary>
    public required int[] AnswerIds { get; init; }
    public required AnswerComparison Compared { get; init; }
    public required int[] CounterfactualAnswerIds { get; init; }
    public required AnswerMetric Metric { get; init; }
    /// <summary>The automatic search's best candidates, chosen first (empty for a given counterfactual).</summary>
    public IReadOnlyList<CounterfactualCandidate> CounterfactualCandidates { get; init; } = [];

    public static Prediction Prepare(LoadedModel loaded, ExplainRequest request)
    {
        var full = Continuations.EncodePrompt(loaded, request.Prompt, "prompt");
        var ids = AtPosition(full, request.Position, "position");
        string prompt = ids.Length == full.Length ? request.Prompt : loaded.Tokenizer.Decode(ids, skipSpecial: true);
        var target = Choice(loaded, prompt, ids, request.Target, "target");
        var foil = Choice(loaded, prompt, ids, request.Foil, "foil");
        // The logit lens, direct attribution and the counterfactual search read one logit difference: of the first tokens
        // where the answers differ, after the tokens they share (" Ann" vs " Sue" after " Mary"), teacher-forced.
        var compared = AnswerComparison.Of(loaded.Tokenizer, request, target.Ids, foil.Ids);
        int[] shared = target.Ids[..compared.Shared.Count];
        var readout = new LogitDiffReadout(loaded.Model, compared.TargetId, compared.FoilId);

        var choice = request.Counterfactual is { } given
            ? new CounterfactualChoice(AtPosition(Continuations.EncodePrompt(loaded, given, "counterfactual"), request.Position, "position (in the counterfactual)"), given, "given", [])
            : request.CounterfactualPool is { } pool
                ? CounterfactualSearch.FromPool(loaded, ids, shared, readout, pool.Prompts, pool.Name)
                : CounterfactualSearch.Build(loaded, ids, shared, readout);
        var (cfIds, cfText, origin) = (choice.Ids, choice.Text, choice.Origin);
        if (cfIds.Length != ids.Length)
            throw new ArgumentException($"the counterfactual has {cfIds.Length} tokens and the prompt {ids.Length}; patching needs equal lengths (change words that tokenize alike)");
        if (cfIds.AsSpan().SequenceEqual(ids))
            throw new ArgumentException("counterfactual: it encodes to the same tokens as the prompt, so patching between them measures nothing; give a prompt where the answer changes");

        // Teacher forcing: every answer token but the last is fed, so the metric reads one row per answer token (the
        // logit difference: the shared tokens, so it reads the row where the answers differ).
        int[] forced = request.Metric == MetricKind.LogitDiff && request.CustomMetric is null ? shared : target.Ids[..^1];
        bool sequences = request.Metric == MetricKind.LogProbDiff && request.CustomMetric is null;
        TokenBatch Run(int[] prompt) => sequences ? AnswerMetric.LogProbDiffRun(prompt, target.Ids, foil.Ids) : TokenBatch.Single([.. prompt, .. forced]);
        var (run, cfRun) = (Run(ids), Run(cfIds));
        int[] runIds = [.. ids, .. forced];
        var metric = request.CustomMetric?.Invoke(runIds, target.Ids, foil.Ids) ?? request.Metric switch
        {
            MetricKind.LogitDiff => AnswerMetric.LogitDiff(compared.TargetId, compared.FoilId),
            MetricKind.LogProb => AnswerMetric.LogProb(target.Ids),
            MetricKind.Prob => AnswerMetric.Prob(target.Ids),
            MetricKind.LogProbDiff => AnswerMetric.LogProbDiff(target.Ids, foil.Ids),
            _ => AnswerMetric.Kl(AnswerMetric.LastRows(loaded.Model.Forward(Compute.Eager, run), target.Ids.Length)),
        };
        if (metric.Cells.Max(c => c.FromEnd) >= run.Length || metric.Sequences > run.BatchSize)
            throw new ArgumentException($"the metric reads {metric.Rows} rows of {metric.Sequences} sequences but the run has {run.BatchSize} of {run.Length} tokens");
        return new Prediction(run, target, foil, readout, cfRun, cfText, origin)
        {
            Ids = runIds, AnswerIds = [.. ids, .. shared], CounterfactualAnswerIds = [.. cfIds, .. shared], Compared = compared, Metric = metric,
            CounterfactualCandidates = choice.Ranked,
        };
    }

    /// <summary>The prompt up to and including <paramref name="position"/> (all of it when null): the model's prediction there depends on nothing later.</summary>
    private static int[] AtPosition(int[] ids, int? position, string what) => position switch
    {
        null => ids,
        { } p when p >= 0 && p < ids.Length => ids[..(p + 1)],
        { } p => throw new ArgumentException($"{what} {p} is outside the prompt's {ids.Length} tokens (0 to {ids.Length - 1})"),
    };

    private static TokenChoice Choice(LoadedModel loaded, string prompt, int[] ids, string text, string option)
    {
        if (text.Length == 0) throw new ArgumentException($"the {option} is empty; give the text the model should (or should not) continue with");
        var tokens = Continuations.Encode(loaded, prompt, ids, text, option);
        // Teacher-forced: one forward of prompt + answer gives log p of every answer token given the ones before it.
        var logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single([.. ids, .. tokens[..^1]]));
        var perToken = AnswerMetric.LastRows(logits, tokens.Length).Select((row, i) => LanguageModelling.LogSoftmax(row)[tokens[i]]).ToArray();
        return new TokenChoice(text, tokens[0], loaded.Tokenizer.TokenText(tokens[0]), tokens.Length, tokens.Select(loaded.Tokenizer.TokenText).ToArray())
        {
            Ids = tokens, LogProb = perToken.Sum(), TokenLogProbs = perToken,
        };
    }
}

/// <summary>
/// Where the logit lens, direct attribution and the counterfactual search compare the target and foil: at their first
/// differing tokens, after the tokens both start with (teacher-forced after the prompt; none when the first tokens differ).
/// </summary>
/// <param name="Shared">The tokens both answers start with.</param>
public sealed record AnswerComparison(int TargetId, string TargetToken, int FoilId, string FoilToken, IReadOnlyList<string> Shared)
{
    /// <summary>"compared at ' Ann' vs ' Sue' after the shared ' Mary'", or "compared at ' the' vs ' a'".</summary>
    public string Text => $"compared at {TokenDisplay.Quote(TargetToken)} vs {TokenDisplay.Quote(FoilToken)}"
        + (Shared.Count == 0 ? "" : $" after the shared {TokenDisplay.Quote(string.Concat(Shared))}");

    /// <summary>The first differing tokens of two answers; an error when they are the same tokens or one starts the other.</summary>
    public static AnswerComparison Of(ITokenizer tokenizer, ExplainRequest request, int[] target, int[] foil)
    {
        int i = 0;
        while (i < target.Length && i < foil.Length && target[i] == foil[i]) i++;
        if (i == target.Length && i == foil.Length)
            throw new ArgumentException($"target \"{request.Target}\" and foil \"{request.Foil}\" are the same tokens; there is no difference to explain");
        if (i == target.Length || i == foil.Length)
        {
            var (shorter, longer) = i == target.Length ? ($"target \"{request.Target}\"", $"foil \"{request.Foil}\"") : ($"foil \"{request.Foil}\"", $"target \"{request.Target}\"");
            throw new ArgumentException($"{shorter} is the start of {longer}: no token position tells them apart; give answers that differ in a token");
        }
        return new AnswerComparison(target[i], tokenizer.TokenText(target[i]), foil[i], tokenizer.TokenText(foil[i]), target[..i].Select(tokenizer.TokenText).ToArray());
    }
}

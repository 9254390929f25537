using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Steering;

public sealed record SteeringSweepOptions
{
    public float[] Coefficients { get; init; } = [-8, -4, 0, 4, 8];
    public int MaxNewTokens { get; init; } = 24;
    /// <summary>Each coefficient's generation is sampled with this seed, so columns differ only by the steering.</summary>
    public SamplingOptions Sampling { get; init; } = new(Temperature: 0.8f, TopK: 40, Seed: 0);
    /// <summary>Texts whose first token is the concept's own token; null: ActAdd's plus text, or the vector's top unembedding tokens.</summary>
    public IReadOnlyList<string>? ConceptTokens { get; init; }
    public string ReferenceText { get; init; } = DefaultReferenceText;
    public IReadOnlyList<string> NeutralPrompts { get; init; } = DefaultNeutralPrompts;

    /// <summary>Plain TinyStories-style text (written for Pinpoint) on which the cost in perplexity is measured.</summary>
    public const string DefaultReferenceText =
        "Once upon a time, there was a little girl named Lily. She loved to play in the park with her red ball. " +
        "One day, she saw a big dog near the tree. The dog was friendly and wanted to play too. Lily threw the ball " +
        "and the dog ran to get it. They played all day until the sun went down. Then Lily went home and told her mom " +
        "about her new friend. Her mom smiled and gave her a warm hug.";

    public static readonly IReadOnlyList<string> DefaultNeutralPrompts =
    [
        "The weather today is", "Tom went to the store to buy", "She opened the door and", "After lunch, the children",
        "The old man sat on the bench and", "In the morning, the sun", "He looked at the box and", "They walked to the",
    ];
}

/// <param name="ConceptLogitShift">Mean change (vs coefficient 0) of the concept tokens' logits at the prompt's last position.</param>
/// <param name="ConceptLogProbShift">The same for their log-probabilities (immune to a shift of every logit).</param>
/// <param name="Perplexity">On the reference text, steered.</param>
/// <param name="NeutralKl">Mean KL(unsteered ‖ steered) of the next-token distribution at the end of the neutral prompts.</param>
public sealed record SweepPoint(float Coefficient, string Generation, int[] GeneratedIds, double ConceptLogitShift, double ConceptLogProbShift, double Perplexity, double NeutralKl);

public sealed record SteeringSweepReport(
    string Spec, string Hook, double VectorNorm, string Positions, string Prompt, string[] ConceptTokens, int[] ConceptIds,
    double BasePerplexity, int ReferenceTokens, int NeutralPrompts, SamplingOptions Sampling, SweepPoint[] Points);

/// <summary>
/// A steering vector at several coefficients: seeded generations side by side, the effect (the concept's own tokens'
/// logit and log-probability shift at the prompt's end) and the cost (perplexity on reference text, KL on neutral prompts).
/// </summary>
public static class SteeringSweep
{
    public static SteeringSweepReport Run(LoadedModel model, SteeringSpec spec, string prompt, SteeringSweepOptions options, Action<string>? progress = null)
    {
        if (spec.Ablate) throw new ArgumentException($"steering spec '{spec.Text}': a sweep needs an added vector, not ablate");
        if (options.Coefficients.Length == 0) throw new ArgumentException("no coefficients to sweep");
        var hooked = model.Model;
        var vector = (SteeringVector)spec.Build(model);
        var promptIds = model.Encode(prompt);
        var concept = ConceptIds(model, spec, vector, options.ConceptTokens);
        var reference = model.Encode(options.ReferenceText);
        if (reference.Length > hooked.Config.ContextLength) reference = reference[..hooked.Config.ContextLength];
        var neutral = options.NeutralPrompts.Select(model.Encode).ToList();

        var baseLogits = LastLogits(hooked, promptIds);
        var baseLogProbs = LanguageModelling.LogSoftmax(baseLogits);
        var baseNeutral = neutral.Select(ids => LanguageModelling.LastLogProbs(hooked, ids)).ToList();
        double basePerplexity = LanguageModelling.Perplexity(hooked, reference);

        var points = new List<SweepPoint>();
        foreach (var coefficient in options.Coefficients)
        {
            progress?.Invoke($"coefficient {coefficient}");
            var steering = vector.WithCoefficient(coefficient);
            hooked.Interventions.Add(steering);
            try
            {
                var logits = LastLogits(hooked, promptIds);
                var logProbs = LanguageModelling.LogSoftmax(logits);
                var generated = hooked.Generate(promptIds, options.MaxNewTokens, options.Sampling, model.Tokenizer.Eos).ToArray();
                points.Add(new SweepPoint(
                    coefficient,
                    model.Tokenizer.DecodeContinuation(promptIds, generated),
                    generated,
                    concept.Average(t => (double)logits[t] - baseLogits[t]),
                    concept.Average(t => logProbs[t] - baseLogProbs[t]),
                    LanguageModelling.Perplexity(hooked, reference),
                    neutral.Select((ids, i) => LanguageModelling.KlDivergence(baseNeutral[i], LanguageModelling.LastLogProbs(hooked, ids))).Average()));
            }
            finally
            {
                hooked.Interventions.Remove(steering);
            }
        }
        return new SteeringSweepReport(spec.Text, vector.Hook, vector.Norm, vector.Positions.ToString(), prompt,
            concept.Select(model.Tokenizer.TokenText).ToArray(), concept, basePerplexity, reference.Length, neutral.Count, options.Sampling, points.ToArray());
    }

    private static float[] LastLogits(HookedTransformer model, int[] ids) =>
        model.Forward(Pinpoint.Engine.Autograd.Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: true).ToArray();

    /// <summary>
    /// The concept's own tokens: the first token of each given text; else ActAdd's plus text's tokens; else the 5 tokens a
    /// residual-stream vector raises most through the unembedding.
    /// </summary>
    private static int[] ConceptIds(LoadedModel model, SteeringSpec spec, SteeringVector vector, IReadOnlyList<string>? texts)
    {
        if (texts is not null)
            return texts.Select(t => model.Tokenizer.Encode(t, false) is { Length: > 0 } ids ? ids[0] : throw new ArgumentException($"concept '{t}' encodes to no tokens")).Distinct().ToArray();
        if (spec.Plus is not null)
        {
            var ids = model.Tokenizer.Encode(spec.Plus, false);
            return ids.Length > 0 ? ids.Distinct().ToArray() : throw new ArgumentException($"steering spec '{spec.Text}': the plus text encodes to no tokens");
        }
        var c = model.Model.Config;
        if (vector.Vector.Length != c.DModel)
            throw new ArgumentException($"steering spec '{spec.Text}': name the concept's tokens (--concept) for a vector at {vector.Hook}");
        var u = model.Model.Weights.Unembed;
        var scores = new double[c.VocabSize];
        var w = u.Weight.Contiguous().ToArray();
        for (int token = 0; token < c.VocabSize; token++)
            for (int i = 0; i < c.DModel; i++)
                scores[token] += vector.Vector[i] * (u.OutIn ? w[token * c.DModel + i] : w[i * c.VocabSize + token]);
        return Enumerable.Range(0, c.VocabSize).OrderByDescending(t => scores[t]).Take(5).ToArray();
    }
}

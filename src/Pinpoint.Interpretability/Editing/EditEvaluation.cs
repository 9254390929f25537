using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

public sealed record EditEvaluationOptions
{
    /// <summary>ROME's layer; ignored when <see cref="Memit"/> is set.</summary>
    public int Layer { get; init; }
    /// <summary>ROME's edits applied one after another to one model, instead of each to a fresh copy.</summary>
    public bool Sequential { get; init; }
    /// <summary>Every edit at once with MEMIT instead of ROME.</summary>
    public MemitOptions? Memit { get; init; }
    /// <summary>C = E[kkᵀ] per edited layer; null for C = I.</summary>
    public IReadOnlyDictionary<int, double[,]>? Covariances { get; init; }
    public RomeOptions Rome { get; init; } = new();
    public string ReferenceText { get; init; } = DefaultReferenceText;

    /// <summary>
    /// Steering's reference paragraph with its one character unnamed: text about an edited subject is meant to change, so the
    /// perplexity that measures collateral damage must not name a subject (steering's text names Lily, a subject of evals/edits.jsonl).
    /// </summary>
    public const string DefaultReferenceText =
        "Once upon a time, there was a little girl. She loved to play in the park with her red ball. " +
        "One day, she saw a big dog near the tree. The dog was friendly and wanted to play too. The girl threw the ball " +
        "and the dog ran to get it. They played all day until the sun went down. Then the girl went home and told her mom " +
        "about her new friend. Her mom smiled and gave her a warm hug.";
    public int GenerationTokens { get; init; } = 32;
}

/// <param name="Efficacy">P(new) > P(true) on the prompt after the edit.</param>
/// <param name="Paraphrase">Share of paraphrases where P(new) > P(true).</param>
/// <param name="Neighborhood">Share of neighbour prompts whose own pre-edit top token still beats the new target.</param>
/// <param name="TrueBefore">P(target_true) on the prompt before the edit; <paramref name="NewBefore"/>, <paramref name="TrueAfter"/> and <paramref name="NewAfter"/> alike.</param>
/// <param name="Seconds">Time of this item's edit; for MEMIT the batch's time divided by the items.</param>
/// <param name="OptimisedProbability">P(new) on the prompt with the optimised δ added (v* for ROME, z* for MEMIT): what the edit aimed at; an edit that fails with this high lost its δ in the weight update.</param>
/// <param name="DeltaOverValue">‖δ‖ / ‖v‖ (ROME: v the MLP output, MEMIT: z the residual) at the subject's last token; <paramref name="Clamped"/> when it ended at the clamp.</param>
/// <param name="PerplexityAfter">Perplexity on the reference text with this edit alone (fresh copies); NaN when every edit shares one model.</param>
public sealed record EditItemResult(string Subject, string Prompt, string TargetTrue, string TargetNew, bool Efficacy, double Magnitude, double Paraphrase, double Neighborhood,
    double TrueBefore, double NewBefore, double TrueAfter, double NewAfter, double Seconds,
    double OptimisedProbability, double DeltaOverValue, bool Clamped, int OptimisationSteps, double PerplexityAfter = double.NaN);

/// <param name="Layers">The edited layers (ROME's one, or MEMIT's).</param>
/// <param name="UpdateWeight">MEMIT's λ; null for ROME.</param>
public sealed record EditReport(
    string Method, IReadOnlyList<int> Layers, double? UpdateWeight, int Items, double EfficacyScore, double EfficacyMagnitude, double ParaphraseScore, double NeighborhoodScore, double Score,
    double FluencyBefore, double FluencyAfter, double PerplexityBefore, double PerplexityAfter, double SecondsPerEdit, IReadOnlyList<EditItemResult> ItemResults,
    HookedTransformer Edited);

/// <summary>
/// CounterFact-style evaluation of ROME edits (Meng et al., 2022): efficacy, paraphrase and neighbourhood scores and their
/// harmonic mean, n-gram entropy of generations (fluency) and perplexity on held-out text, before and after. Probabilities
/// of multi-token targets are length-normalised: exp of the mean log-probability of their tokens.
/// </summary>
public static class EditEvaluation
{
    public static EditReport Run(LoadedModel loaded, IReadOnlyList<EditItem> items, EditEvaluationOptions options, Action<string, int, int>? progress = null)
    {
        var original = loaded.Model;
        var edited = new HookedTransformer(original.Config, original.Weights.Copy());
        foreach (var i in original.Interventions) edited.Interventions.Add(i);
        var reference = loaded.Encode(options.ReferenceText);
        double perplexityBefore = LanguageModelling.Perplexity(original, reference);

        // Everything measured before any edit: target_true, P(true) and P(new), and each neighbour's own top token.
        var before = items.Select(item => Prepare(loaded, original, item)).ToList();
        var fluencyBefore = items.Select(item => Fluency(loaded, original, item.Request.Filled, options)).Average();
        var results = new List<EditItemResult>();
        var perplexities = new List<double>();
        var fluencies = new List<double>();
        IReadOnlyList<int> layers;
        string method;
        double? updateWeight = null;
        if (options.Memit is { } memit)
        {
            var editor = new MemitEditor(loaded, edited, memit, options.Covariances, options.Rome);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var batch = editor.Edit(items.Select(i => i.Request).ToList(), progress);
            double seconds = watch.Elapsed.TotalSeconds / items.Count;
            results.AddRange(items.Select((item, n) => Measure(loaded, edited, item, before[n], seconds, batch.Deltas[n])));
            (layers, method, updateWeight) = (editor.Layers, "memit", editor.UpdateWeight);
        }
        else
        {
            var editor = new RomeEditor(loaded, edited, options.Layer, options.Covariances?[options.Layer], options.Rome);
            var mlpOut = edited.Weights.Blocks[options.Layer].Mlp!.Out.Weight;
            var pristine = mlpOut.Clone();
            var optimisations = new List<EditPrompts.DeltaResult>();
            for (int n = 0; n < items.Count; n++)
            {
                progress?.Invoke("editing", n + 1, items.Count);
                var item = items[n];
                var watch = System.Diagnostics.Stopwatch.StartNew();
                var edit = editor.Edit(item.Request);
                double seconds = watch.Elapsed.TotalSeconds;
                optimisations.Add(edit.Optimisation);
                results.Add(Measure(loaded, edited, item, before[n], seconds, edit.Optimisation));
                if (!options.Sequential)
                {
                    perplexities.Add(LanguageModelling.Perplexity(edited, reference));
                    results[^1] = results[^1] with { PerplexityAfter = perplexities[^1] };
                    fluencies.Add(Fluency(loaded, edited, item.Request.Filled, options));
                    pristine.Span.CopyTo(mlpOut.Span);
                }
            }
            // Every edit is in the model now: scores are measured again on the final model.
            if (options.Sequential) results = items.Select((item, n) => Measure(loaded, edited, item, before[n], results[n].Seconds, optimisations[n])).ToList();
            (layers, method) = ([options.Layer], options.Sequential ? "rome-sequential" : "rome");
        }
        if (perplexities.Count == 0)
        {
            perplexities.Add(LanguageModelling.Perplexity(edited, reference));
            fluencies.AddRange(items.Select(item => Fluency(loaded, edited, item.Request.Filled, options)));
        }
        double efficacy = results.Average(r => r.Efficacy ? 1.0 : 0), paraphrase = MeanOfKnown(results.Select(r => r.Paraphrase)), neighborhood = MeanOfKnown(results.Select(r => r.Neighborhood));
        return new EditReport(method, layers, updateWeight, items.Count, efficacy, results.Average(r => r.Magnitude), paraphrase, neighborhood,
            HarmonicMean(efficacy, paraphrase, neighborhood), fluencyBefore, fluencies.Average(), perplexityBefore, perplexities.Average(), results.Average(r => r.Seconds), results, edited);
    }

    private sealed record Before(int TargetTrue, double TrueProbability, double NewProbability, int[] NeighborTops);

    private static Before Prepare(LoadedModel loaded, HookedTransformer model, EditItem item)
    {
        int Top(string prompt)
        {
            var logProbs = LanguageModelling.LastLogProbs(model, Continuations.EncodePrompt(loaded, prompt, item.Request.Source));
            return Array.IndexOf(logProbs, logProbs.Max());
        }
        int targetTrue = Top(item.Request.Filled);
        var (pNew, pTrue) = Compare(loaded, model, item.Request, item.Request.Filled, targetTrue);
        return new Before(targetTrue, pTrue, pNew, item.Neighbors.Select(Top).ToArray());
    }

    /// <summary>P(new target) (length-normalised) and P(<paramref name="trueToken"/>) after <paramref name="prompt"/>.</summary>
    private static (double New, double True) Compare(LoadedModel loaded, HookedTransformer model, EditRequest r, string prompt, int trueToken)
    {
        var ids = Continuations.EncodePrompt(loaded, prompt, r.Source);
        var target = Continuations.Encode(loaded, prompt, ids, r.TargetNew, r.Source);
        return (TargetProbability(model, ids, target), Math.Exp(LanguageModelling.LastLogProbs(model, ids)[trueToken]));
    }

    private static EditItemResult Measure(LoadedModel loaded, HookedTransformer model, EditItem item, Before before, double seconds, EditPrompts.DeltaResult optimisation)
    {
        var r = item.Request;
        var (pNew, pTrue) = Compare(loaded, model, r, r.Filled, before.TargetTrue);
        double paraphrase = item.Paraphrases.Length == 0 ? double.NaN
            : item.Paraphrases.Average(p => Compare(loaded, model, r, p.Replace("{}", r.Subject, StringComparison.Ordinal), before.TargetTrue) is var c && c.New > c.True ? 1.0 : 0);
        double neighborhood = item.Neighbors.Length == 0 ? double.NaN
            : item.Neighbors.Select((p, i) => Compare(loaded, model, r, p, before.NeighborTops[i]) is var c && c.True > c.New ? 1.0 : 0).Average();
        return new EditItemResult(r.Subject, r.Filled, loaded.Tokenizer.TokenText(before.TargetTrue), r.TargetNew, pNew > pTrue, pNew - pTrue, paraphrase, neighborhood,
            before.TrueProbability, before.NewProbability, pTrue, pNew, seconds,
            optimisation.PromptProbability, optimisation.DeltaOverValue, optimisation.Clamped, optimisation.Steps);
    }

    /// <summary>exp(mean log P(target token | prompt, earlier target tokens)).</summary>
    public static double TargetProbability(HookedTransformer model, int[] prompt, int[] target)
    {
        int[] ids = [.. prompt, .. target[..^1]];
        int vocab = model.Config.VocabSize;
        var logits = model.Forward(Pinpoint.Engine.Autograd.Compute.Eager, TokenBatch.Single(ids)).ToArray();
        double sum = 0;
        for (int j = 0; j < target.Length; j++)
            sum += LanguageModelling.LogSoftmax(logits.AsSpan((prompt.Length - 1 + j) * vocab, vocab))[target[j]];
        return Math.Exp(sum / target.Length);
    }

    /// <summary>ROME's fluency: the weighted mean of bigram (2/3) and trigram (4/3) entropies of a seeded top-5 sampled generation, in bits.</summary>
    private static double Fluency(LoadedModel loaded, HookedTransformer model, string prompt, EditEvaluationOptions options)
    {
        var ids = Continuations.EncodePrompt(loaded, prompt, null);
        var generated = model.Generate(ids, options.GenerationTokens, new SamplingOptions(Temperature: 1f, TopK: 5, Seed: options.Rome.Seed), loaded.Tokenizer.Eos);
        var words = loaded.Tokenizer.DecodeContinuationWords(ids, generated.ToArray());
        return (2.0 / 3 * NGramEntropy(words, 2) + 4.0 / 3 * NGramEntropy(words, 3)) / 2;
    }

    public static double NGramEntropy(IReadOnlyList<string> words, int n)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i + n <= words.Count; i++)
        {
            var key = string.Join("\u0001", words.Skip(i).Take(n));
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        double total = counts.Values.Sum();
        return total == 0 ? 0 : -counts.Values.Sum(c => c / total * Math.Log2(c / total));
    }

    /// <summary>The mean of the values that exist (items without paraphrases or neighbours have NaN); NaN when none does.</summary>
    private static double MeanOfKnown(IEnumerable<double> values) => values.Where(v => !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average();

    public static double HarmonicMean(params double[] values) =>
        values.Any(v => double.IsNaN(v)) ? HarmonicMean(values.Where(v => !double.IsNaN(v)).ToArray())
        : values.Length == 0 || values.Any(v => v <= 0) ? 0 : values.Length / values.Sum(v => 1 / v);
}

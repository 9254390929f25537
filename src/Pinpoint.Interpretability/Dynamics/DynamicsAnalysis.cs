using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Concepts;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Dynamics;

/// <summary>A component's mean attribution-patching effect over the dataset, in logit-difference units.</summary>
public sealed record ComponentEffect(string Component, double Effect);

/// <summary>The concept set's linear probe at one checkpoint: the residual-stream hook where it reads best, held out over grouped folds.</summary>
/// <param name="Baseline">Majority class of the training folds, scored like the probe (chance level).</param>
public sealed record ProbeScore(string Hook, double Accuracy, double Ci95, double Baseline);

/// <param name="ValLoss">From the run's metrics.jsonl (or the checkpoint's trainer state); null where none was recorded, or where it was measured on other data than the final checkpoint's (a synthetic-data stage).</param>
/// <param name="Induction">Highest per-head induction score on repeated random tokens (as recorded during training).</param>
/// <param name="PrevToken">Highest per-head previous-token score on the same sequences.</param>
/// <param name="RepeatedHalfLoss">Mean loss on the repeated half of those sequences: it falls as in-context copying forms.</param>
/// <param name="LogitDiff">Mean target − foil logit difference over the dataset (null without one).</param>
/// <param name="TopComponents">The top components by mean effect (empty without a dataset).</param>
/// <param name="HeadEffects">Every head's mean effect, [layer][head] (null without a dataset): the heatmap the HTML report redraws per checkpoint.</param>
/// <param name="Probe">The concept probe (null without a concept set).</param>
public sealed record CheckpointDynamics(
    int Step, long Tokens, double? ValLoss, double Induction, double PrevToken, double RepeatedHalfLoss, double? DatasetAccuracy, double? LogitDiff,
    IReadOnlyList<ComponentEffect> TopComponents, double[][]? HeadEffects = null, ProbeScore? Probe = null);

/// <summary>The interval (<paramref name="FromStep"/>, <paramref name="Step"/>] between consecutive checkpoints where <paramref name="Metric"/> changes fastest per step; <paramref name="Size"/> is its signed change there.</summary>
public sealed record PhaseChange(string Metric, int FromStep, int Step, double Size);

/// <summary>A component of the final top set: the first checkpoint step at which its effect reaches half its final value (null if the final effect is 0).</summary>
public sealed record Formation(string Component, int? StepHalf, double FinalEffect);

/// <summary>When the concept became linearly readable: the first step at which the probe's accuracy above chance reaches half its final value (null when the final probe is at or below chance).</summary>
public sealed record ConceptFormation(string Concepts, int? StepHalf, double FinalAccuracy, double Baseline);

/// <summary>
/// The causal check of one checkpoint's top set, as <c>pinpoint explain --dataset</c> makes it: the heads and MLPs of
/// the top set ablated together in every item (mean and resample ablation), beside random sets of the same kinds.
/// </summary>
public sealed record CheckpointVerification(int Step, IReadOnlyList<string> Components, DatasetVerification MeanAblation, DatasetVerification ResampleAblation);

/// <param name="EarlyStep">The first checkpoint at which the dataset's mean logit difference reaches half its final value: when the task starts being decided (null when the final difference is not positive).</param>
/// <param name="EarlyOverlap">Share of the final top set that is already in the top set at <paramref name="EarlyStep"/> (1: the same components decide it early and at the end).</param>
/// <param name="Skipped">Incomplete checkpoints left out, with the reason.</param>
public sealed record DynamicsReport(
    string Run, IReadOnlyList<CheckpointDynamics> Checkpoints, IReadOnlyList<PhaseChange> PhaseChanges, IReadOnlyList<Formation> Formation,
    int? EarlyStep, double? EarlyOverlap, IReadOnlyList<string> Skipped,
    IReadOnlyList<CheckpointVerification>? Verification = null, ConceptFormation? ConceptFormation = null);

/// <param name="Dataset">Score dataset: accuracy, top components and the ablation check per checkpoint.</param>
/// <param name="Concepts">Concept set (probe JSONL): probe accuracy per checkpoint.</param>
/// <param name="VerifyAt">Checkpoint steps whose top set is checked by ablation (at most <see cref="DynamicsAnalysis.MaxVerified"/>); null: the first, middle and final checkpoint; empty: none.</param>
public sealed record DynamicsOptions(IReadOnlyList<ScoreItem>? Dataset = null, int Top = DynamicsAnalysis.DefaultTop, ProbeDataset? Concepts = null, IReadOnlyList<int>? VerifyAt = null);

/// <summary>
/// A training run as a timeline of mechanisms: every checkpoint measured with the training probe's induction and
/// previous-token scores and, given a score dataset, its accuracy and the dataset's top components by attribution
/// patching (checked by ablation at a few checkpoints); given a concept set, the best layer's probe accuracy; then
/// the phase changes of each metric and when each final top component formed.
/// </summary>
public static class DynamicsAnalysis
{
    public const int DefaultTop = 5;
    /// <summary>Ablation costs (1 + random draws) forwards per item per set size: checked at a few checkpoints only.</summary>
    public const int MaxVerified = 3;
    /// <summary>Grouped folds of the concept probe; no permutation test (its p-value is not reported here).</summary>
    public const int ProbeFolds = 5;

    /// <summary>
    /// Steps whose recorded validation loss was measured on other data than the final checkpoint's (a folder joining a
    /// corpus run with a synthetic-data stage): their losses are not comparable, so they are left out, with a warning.
    /// </summary>
    private static HashSet<int> OtherValidationData(IReadOnlyList<Checkpoint> checkpoints, Action<string>? warn)
    {
        var final = checkpoints[^1].ValidationData;
        var other = checkpoints.Where(c => c.ValidationData is not null && final is not null && c.ValidationData != final).ToList();
        foreach (var group in other.GroupBy(c => c.ValidationData))
            warn?.Invoke($"validation loss left out at steps {string.Join(", ", group.Select(c => c.Step))}: measured on {group.Key}, the final checkpoint's on {final}");
        return other.Select(c => c.Step).ToHashSet();
    }

    /// <param name="progress">Called with (phase, done, in all): the dataset's items as they are prepared, then the checkpoints (0 of them once the items are ready).</param>
    public static DynamicsReport Run(string run, DynamicsOptions? options = null,
        Action<string>? warn = null, Action<string, int, int>? progress = null, CancellationToken cancel = default)
    {
        options ??= new DynamicsOptions();
        var dataset = options.Dataset;
        if (options.Top < 1) throw new ArgumentException($"top must be at least 1, got {options.Top}");
        if (dataset is { Count: 0 }) throw new ArgumentException("the dataset has no items");
        var skipped = new List<string>();
        var checkpoints = CheckpointFolder.Find(run, w => { skipped.Add(w); warn?.Invoke(w); });
        var verifySteps = dataset is null ? [] : VerifySteps(checkpoints.Select(c => c.Step).ToList(), options.VerifyAt);
        var recordedLosses = CheckpointFolder.ValidationLosses(run);
        var otherValidation = OtherValidationData(checkpoints, warn);
        var pairs = dataset is null ? null : PreparePairs(checkpoints[^1], dataset, progress, cancel);
        progress?.Invoke("checkpoints", 0, checkpoints.Count);
        var measured = new List<Measurement>();
        foreach (var checkpoint in checkpoints)
        {
            cancel.ThrowIfCancellationRequested();
            var valLoss = otherValidation.Contains(checkpoint.Step) ? null
                : recordedLosses.TryGetValue(checkpoint.Step, out var loss) ? loss : checkpoint.RecordedValidationLoss;
            measured.Add(Measure(checkpoint, valLoss, options, pairs, verifySteps.Contains(checkpoint.Step), cancel));
            progress?.Invoke("checkpoints", measured.Count, checkpoints.Count);
        }
        var records = measured.Select(m => m.Record).ToList();
        var steps = records.Select(r => r.Step).ToList();
        var series = new (string Metric, Func<CheckpointDynamics, double?> Value)[]
        {
            ("val_loss", r => r.ValLoss), ("induction", r => r.Induction), ("prev_token", r => r.PrevToken), ("repeated_half_loss", r => r.RepeatedHalfLoss),
            ("dataset_accuracy", r => r.DatasetAccuracy), ("logit_diff", r => r.LogitDiff), ("probe_accuracy", r => r.Probe?.Accuracy),
        };
        var phases = series.Select(s => FastestChange(s.Metric, steps, records.Select(s.Value).ToList())).OfType<PhaseChange>().ToList();
        var concept = options.Concepts is null ? null : ConceptFormationOf(options.Concepts.Path, steps, records.Select(r => r.Probe!).ToList());
        var verification = measured.Select(m => m.Verification).OfType<CheckpointVerification>().ToList();

        if (dataset is null) return new DynamicsReport(run, records, phases, [], null, null, skipped, null, concept);
        var finalTop = records[^1].TopComponents.Select(c => c.Component).ToList();
        var formation = finalTop.Select(c => FormationOf(c, steps, measured.Select(m => m.Effects[c]).ToList())).ToList();
        if (EarlyIndex(records.Select(r => r.LogitDiff!.Value).ToList()) is not { } early)
            return new DynamicsReport(run, records, phases, formation, null, null, skipped, verification, concept);
        double overlap = finalTop.Intersect(records[early].TopComponents.Select(c => c.Component)).Count() / (double)finalTop.Count;
        return new DynamicsReport(run, records, phases, formation, steps[early], overlap, skipped, verification, concept);
    }

    /// <summary>The steps to check by ablation: the requested ones (each must be a checkpoint's), or the first, middle and final checkpoint.</summary>
    public static HashSet<int> VerifySteps(IReadOnlyList<int> steps, IReadOnlyList<int>? requested)
    {
        if (requested is null) return [steps[0], steps[steps.Count / 2], steps[^1]];
        if (requested.Count > MaxVerified) throw new ArgumentException($"--verify-at: at most {MaxVerified} steps (ablation is slow), got {requested.Count}");
        foreach (var step in requested)
            if (!steps.Contains(step))
                throw new ArgumentException($"--verify-at: no checkpoint at step {step} (checkpoints: {string.Join(", ", steps)})");
        return [.. requested];
    }

    private sealed record Measurement(CheckpointDynamics Record, Dictionary<string, double> Effects, CheckpointVerification? Verification);

    /// <summary>
    /// The dataset's items made concrete once, by the final checkpoint (as <c>explain --dataset</c> prepares them,
    /// counterfactual search included), so every checkpoint is patched between the same prompts and the effects
    /// compare like with like across steps (all checkpoints share the tokenizer).
    /// </summary>
    private static List<PatchPair> PreparePairs(Checkpoint final, IReadOnlyList<ScoreItem> items, Action<string, int, int>? progress, CancellationToken cancel)
    {
        using var loaded = ModelLoader.Load(final.Folder);
        var requests = DatasetExplainer.Requests(items);
        return requests.Select((request, i) =>
        {
            cancel.ThrowIfCancellationRequested();
            progress?.Invoke("items (counterfactuals by the final checkpoint)", i + 1, items.Count);
            // Checked first on its own, so an unusable prompt is named as the scorer names it.
            Continuations.EncodePrompt(loaded, items[i].Prompt, items[i].Source ?? $"item {i}");
            try
            {
                var p = Prediction.Prepare(loaded, request);
                return new PatchPair(p.Ids, p.CounterfactualIds, p.Target.Id, p.Foil.Id);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{items[i].Source ?? $"item {i}"}: {e.Message}", e);
            }
        }).ToList();
    }

    private static Measurement Measure(Checkpoint checkpoint, double? valLoss, DynamicsOptions options, IReadOnlyList<PatchPair>? pairs, bool verify, CancellationToken cancel)
    {
        using var loaded = ModelLoader.Load(checkpoint.Folder);
        var scores = TrainingDynamics.RepeatedSequenceScores(loaded.Model, TrainingDynamics.ProbeSeed);
        double induction = scores.Induction.Max(), previous = scores.PreviousToken.Max();
        var probe = options.Concepts is null ? null : ProbeAt(loaded, options.Concepts, cancel);
        if (pairs is null)
            return new(new CheckpointDynamics(checkpoint.Step, checkpoint.Tokens, valLoss, induction, previous, scores.RepeatedHalfLoss, null, null, [], null, probe), [], null);

        var c = loaded.Model.Config;
        var estimates = DatasetPatching.Run(loaded.Model, pairs, cancel: cancel);
        var effects = new Dictionary<Component, double>();
        for (int l = 0; l < c.NLayers; l++)
        {
            for (int h = 0; h < c.NHeads; h++) effects[new Component(ComponentKind.Head, l, h)] = estimates.Average(e => e.Heads[l * c.NHeads + h]);
            if (!c.AttentionOnly) effects[new Component(ComponentKind.Mlp, l, 0)] = estimates.Average(e => e.Mlps[l]);
        }
        // The target's logit strictly above the foil's, as the scorer counts it.
        double accuracy = estimates.Count(e => e.CleanDiff > 0) / (double)estimates.Length;
        var topSet = effects.OrderByDescending(kv => kv.Value).Take(options.Top).ToList();
        var record = new CheckpointDynamics(checkpoint.Step, checkpoint.Tokens, valLoss, induction, previous, scores.RepeatedHalfLoss, accuracy,
            estimates.Average(e => e.CleanDiff), topSet.Select(kv => new ComponentEffect(kv.Key.Name, kv.Value)).ToList(), HeadGrid(c, effects), probe);
        var verification = verify ? Verify(loaded, checkpoint.Step, pairs, estimates.Select(e => e.CleanDiff).ToList(), topSet.Select(kv => kv.Key).ToList(), cancel) : null;
        return new(record, effects.ToDictionary(kv => kv.Key.Name, kv => kv.Value), verification);
    }

    private static double[][] HeadGrid(Pinpoint.Models.Transformer.TransformerConfig c, Dictionary<Component, double> effects) =>
        Enumerable.Range(0, c.NLayers).Select(l => Enumerable.Range(0, c.NHeads).Select(h => effects[new Component(ComponentKind.Head, l, h)]).ToArray()).ToArray();

    /// <summary>The top set's heads and MLPs ablated together in every item (mean and resample), with random sets of the same kinds beside them.</summary>
    private static CheckpointVerification Verify(LoadedModel loaded, int step, IReadOnlyList<PatchPair> pairs, IReadOnlyList<double> clean, IReadOnlyList<Component> topSet, CancellationToken cancel)
    {
        var model = loaded.Model;
        // The reference sentences are cut to the context: the small models of recipes and tests have short ones.
        bool bos = model.Config.AddBos && loaded.Tokenizer.Bos is not null;
        var reference = new ExplainOptions().ReferencePrompts.Select(p => loaded.Tokenizer.Encode(p, bos).Take(model.Config.ContextLength).ToArray()).ToList();
        var ablatable = topSet.Where(c => c.Kind is ComponentKind.Head or ComponentKind.Mlp).ToList();
        var plans = pairs.Select((_, i) => Verification.Plan(model.Config, ablatable, ablatable.Count, seed: i)).ToList();
        var mean = Verification.Replacements(model, AblationKind.Mean, null, reference);
        DatasetVerification Check(AblationKind kind, Func<int, Dictionary<string, float[]>> replacements) =>
            DatasetExplainer.Pool(kind, clean, DatasetPatching.Ablate(model, pairs, clean, plans, kind, replacements, cancel: cancel));
        return new CheckpointVerification(step, ablatable.Select(c => c.Name).ToList(), Check(AblationKind.Mean, _ => mean),
            Check(AblationKind.Resample, i => Verification.Replacements(model, AblationKind.Resample, pairs[i].CounterfactualIds, reference)));
    }

    /// <summary>The concept probe at every residual-stream hook; the best hook's held-out accuracy.</summary>
    private static ProbeScore ProbeAt(LoadedModel loaded, ProbeDataset concepts, CancellationToken cancel)
    {
        if (concepts.IsRegression) throw new ArgumentException($"{concepts.Path}: a concept set needs class labels (\"label\"), not numeric values");
        var report = Prober.Run(loaded, concepts, HookSelection.ResidualStream(loaded.Model.Config),
            new ProbeOptions { Folds = ProbeFolds, Permutations = 0 }, cancellation: cancel);
        var best = report.Layers.First(l => l.Hook == report.Best.Hook);
        return new ProbeScore(best.Hook, best.Accuracy!.Value.Mean, best.Accuracy.Value.Ci95, best.Baseline);
    }

    public static ConceptFormation ConceptFormationOf(string concepts, IReadOnlyList<int> steps, IReadOnlyList<ProbeScore> probes)
    {
        var final = probes[^1];
        var aboveChance = probes.Select(p => p.Accuracy - final.Baseline).ToList();
        int? index = aboveChance[^1] > 0 ? FirstReachingHalf(aboveChance) : null;
        return new ConceptFormation(concepts, index is { } i ? steps[i] : null, final.Accuracy, final.Baseline);
    }

    /// <summary>
    /// The interval between consecutive measured checkpoints with the largest change per step (checkpoints without
    /// a value are left out); null with fewer than two values.
    /// </summary>
    public static PhaseChange? FastestChange(string metric, IReadOnlyList<int> steps, IReadOnlyList<double?> values)
    {
        var points = steps.Zip(values).Where(p => p.Second is { } v && double.IsFinite(v)).Select(p => (Step: p.First, Value: p.Second!.Value)).ToList();
        PhaseChange? best = null;
        double bestRate = -1;
        for (int i = 1; i < points.Count; i++)
        {
            double size = points[i].Value - points[i - 1].Value;
            double rate = Math.Abs(size) / Math.Max(1, points[i].Step - points[i - 1].Step);
            if (rate > bestRate) (best, bestRate) = (new PhaseChange(metric, points[i - 1].Step, points[i].Step, size), rate);
        }
        return best;
    }

    /// <summary>
    /// The first checkpoint whose mean logit difference reaches half the final one: where the task starts being decided.
    /// Null when the final checkpoint does not prefer the targets (difference ≤ 0): then nothing decides the task.
    /// </summary>
    public static int? EarlyIndex(IReadOnlyList<double> logitDiffs) => logitDiffs[^1] > 0 ? FirstReachingHalf(logitDiffs) : null;

    /// <summary>When a component's effect first reaches half its final value (in the final value's direction).</summary>
    public static Formation FormationOf(string component, IReadOnlyList<int> steps, IReadOnlyList<double> effects) =>
        new(component, FirstReachingHalf(effects) is { } i ? steps[i] : null, effects[^1]);

    /// <summary>Index of the first value at least half the final one, measured in the final value's direction; null when the final value is 0.</summary>
    public static int? FirstReachingHalf(IReadOnlyList<double> values)
    {
        double final = values[^1];
        if (final == 0 || !double.IsFinite(final)) return null;
        double sign = Math.Sign(final);
        for (int i = 0; i < values.Count; i++)
            if (values[i] * sign >= Math.Abs(final) / 2) return i;
        return values.Count - 1;
    }
}

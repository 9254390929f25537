using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Dynamics;

/// <summary>A component's mean attribution-patching effect over the dataset, in logit-difference units.</summary>
public sealed record ComponentEffect(string Component, double Effect);

/// <param name="ValLoss">From the run's metrics.jsonl (or the checkpoint's trainer state); null where none was recorded.</param>
/// <param name="Induction">Highest per-head induction score on repeated random tokens (as recorded during training).</param>
/// <param name="PrevToken">Highest per-head previous-token score on the same sequences.</param>
/// <param name="LogitDiff">Mean target − foil logit difference over the dataset (null without one).</param>
/// <param name="TopComponents">The top components by mean effect (empty without a dataset).</param>
public sealed record CheckpointDynamics(
    int Step, long Tokens, double? ValLoss, double Induction, double PrevToken, double? DatasetAccuracy, double? LogitDiff,
    IReadOnlyList<ComponentEffect> TopComponents);

/// <summary>The interval (<paramref name="FromStep"/>, <paramref name="Step"/>] between consecutive checkpoints where <paramref name="Metric"/> changes fastest per step; <paramref name="Size"/> is its signed change there.</summary>
public sealed record PhaseChange(string Metric, int FromStep, int Step, double Size);

/// <summary>A component of the final top set: the first checkpoint step at which its effect reaches half its final value (null if the final effect is 0).</summary>
public sealed record Formation(string Component, int? StepHalf, double FinalEffect);

/// <param name="EarlyStep">The first checkpoint at which the dataset's mean logit difference reaches half its final value: when the task starts being decided (null when the final difference is not positive).</param>
/// <param name="EarlyOverlap">Share of the final top set that is already in the top set at <paramref name="EarlyStep"/> (1: the same components decide it early and at the end).</param>
/// <param name="Skipped">Incomplete checkpoints left out, with the reason.</param>
public sealed record DynamicsReport(
    string Run, IReadOnlyList<CheckpointDynamics> Checkpoints, IReadOnlyList<PhaseChange> PhaseChanges, IReadOnlyList<Formation> Formation,
    int? EarlyStep, double? EarlyOverlap, IReadOnlyList<string> Skipped);

/// <summary>
/// A training run as a timeline of mechanisms: every checkpoint measured with the training probe's induction and
/// previous-token scores and, given a score dataset, its accuracy and the dataset's top components by attribution
/// patching; then the phase changes of each metric and when each final top component formed.
/// </summary>
public static class DynamicsAnalysis
{
    public const int DefaultTop = 5;

    /// <param name="progress">Called with (phase, checkpoints done, checkpoints in all).</param>
    public static DynamicsReport Run(string run, IReadOnlyList<ScoreItem>? dataset = null, int top = DefaultTop,
        Action<string>? warn = null, Action<string, int, int>? progress = null, CancellationToken cancel = default)
    {
        if (top < 1) throw new ArgumentException($"top must be at least 1, got {top}");
        if (dataset is { Count: 0 }) throw new ArgumentException("the dataset has no items");
        var skipped = new List<string>();
        var checkpoints = CheckpointFolder.Find(run, w => { skipped.Add(w); warn?.Invoke(w); });
        var recordedLosses = CheckpointFolder.ValidationLosses(run);
        var measured = new List<(CheckpointDynamics Record, Dictionary<string, double> Effects)>();
        foreach (var checkpoint in checkpoints)
        {
            cancel.ThrowIfCancellationRequested();
            var valLoss = recordedLosses.TryGetValue(checkpoint.Step, out var loss) ? loss : checkpoint.RecordedValidationLoss;
            measured.Add(Measure(checkpoint, valLoss, dataset, top));
            progress?.Invoke("checkpoints", measured.Count, checkpoints.Count);
        }
        var records = measured.Select(m => m.Record).ToList();
        var steps = records.Select(r => r.Step).ToList();
        var series = new (string Metric, Func<CheckpointDynamics, double?> Value)[]
        {
            ("val_loss", r => r.ValLoss), ("induction", r => r.Induction), ("prev_token", r => r.PrevToken),
            ("dataset_accuracy", r => r.DatasetAccuracy), ("logit_diff", r => r.LogitDiff),
        };
        var phases = series.Select(s => FastestChange(s.Metric, steps, records.Select(s.Value).ToList())).OfType<PhaseChange>().ToList();

        if (dataset is null) return new DynamicsReport(run, records, phases, [], null, null, skipped);
        var finalTop = records[^1].TopComponents.Select(c => c.Component).ToList();
        var formation = finalTop.Select(c => FormationOf(c, steps, measured.Select(m => m.Effects[c]).ToList())).ToList();
        if (EarlyIndex(records.Select(r => r.LogitDiff!.Value).ToList()) is not { } early)
            return new DynamicsReport(run, records, phases, formation, null, null, skipped);
        double overlap = finalTop.Intersect(records[early].TopComponents.Select(c => c.Component)).Count() / (double)finalTop.Count;
        return new DynamicsReport(run, records, phases, formation, steps[early], overlap, skipped);
    }

    private static (CheckpointDynamics, Dictionary<string, double>) Measure(Checkpoint checkpoint, double? valLoss, IReadOnlyList<ScoreItem>? dataset, int top)
    {
        using var loaded = ModelLoader.Load(checkpoint.Folder);
        var scores = TrainingDynamics.RepeatedSequenceScores(loaded.Model, TrainingDynamics.ProbeSeed);
        double induction = scores.Induction.Max(), previous = scores.PreviousToken.Max();
        if (dataset is null) return (new CheckpointDynamics(checkpoint.Step, checkpoint.Tokens, valLoss, induction, previous, null, null, []), []);

        double accuracy = Scorer.Score(loaded, dataset).Accuracy;
        var (logitDiff, effects) = MeanEffects(loaded, dataset);
        var topSet = effects.OrderByDescending(kv => kv.Value).Take(top).Select(kv => new ComponentEffect(kv.Key, kv.Value)).ToList();
        return (new CheckpointDynamics(checkpoint.Step, checkpoint.Tokens, valLoss, induction, previous, accuracy, logitDiff, topSet), effects);
    }

    /// <summary>Mean clean logit difference and each head's and MLP's mean attribution-patching effect (denoising), in logits.</summary>
    private static (double LogitDiff, Dictionary<string, double> Effects) MeanEffects(LoadedModel loaded, IReadOnlyList<ScoreItem> items)
    {
        var model = loaded.Model;
        var sums = new Dictionary<string, double>();
        double cleanSum = 0;
        for (int i = 0; i < items.Count; i++)
        {
            Prediction prediction;
            try
            {
                prediction = Prediction.Prepare(loaded, DatasetExplainer.Requests([items[i]])[0]);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{items[i].Source ?? $"item {i}"}: {e.Message}", e);
            }
            var estimate = AttributionPatching.Run(model, prediction.Ids, prediction.CounterfactualIds, prediction.Metric, PatchDirection.Denoise);
            double span = estimate.CleanDiff - estimate.CounterfactualDiff;
            cleanSum += estimate.CleanDiff;
            foreach (var a in Explainer.Ranking(model.Config, estimate))
                sums[a.Component.Name] = sums.GetValueOrDefault(a.Component.Name) + a.Value * span;
        }
        return (cleanSum / items.Count, sums.ToDictionary(kv => kv.Key, kv => kv.Value / items.Count));
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

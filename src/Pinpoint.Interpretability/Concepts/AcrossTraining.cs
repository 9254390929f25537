using Pinpoint.Interpretability.Dynamics;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Concepts;

/// <summary>One checkpoint's probe report.</summary>
public sealed record ProbeCheckpoint(int Step, long Tokens, ProbeReport Report);

/// <summary><c>pinpoint probe --checkpoints DIR --json</c>: the same probes at every checkpoint of a run, in step order.</summary>
public sealed record ProbeAcrossTraining(string Run, ProbeCheckpoint[] Checkpoints);

/// <summary>One checkpoint's concept report.</summary>
public sealed record ConceptCheckpoint(int Step, long Tokens, ConceptReport Report);

/// <summary><c>pinpoint concepts --checkpoints DIR --json</c>: the same concept analysis at every checkpoint of a run, in step order.</summary>
public sealed record ConceptsAcrossTraining(string Run, ConceptCheckpoint[] Checkpoints);

/// <summary>Runs one analysis on every complete checkpoint of a <c>pinpoint train</c> run (<see cref="CheckpointFolder"/>), loading one at a time.</summary>
public static class AcrossTraining
{
    /// <param name="progress">(phase, done, total) after each checkpoint.</param>
    public static List<(Checkpoint Checkpoint, T Report)> Run<T>(string run, Func<LoadedModel, T> analyze, Action<string>? warn = null,
        Action<string, int, int>? progress = null, CancellationToken cancellation = default)
    {
        var checkpoints = CheckpointFolder.Find(run, warn);
        var results = new List<(Checkpoint, T)>(checkpoints.Count);
        foreach (var checkpoint in checkpoints)
        {
            cancellation.ThrowIfCancellationRequested();
            using var loaded = ModelLoader.Load(checkpoint.Folder);
            results.Add((checkpoint, analyze(loaded)));
            progress?.Invoke("checkpoints", results.Count, checkpoints.Count);
        }
        return results;
    }

    public static ProbeAcrossTraining Probe(string run, ProbeDataset dataset, string? hookPattern, ProbeOptions options, Action<string>? warn = null,
        Action<string, int, int>? progress = null, CancellationToken cancellation = default) =>
        new(run, Run(run, loaded => Prober.Run(loaded, dataset, Hooks(loaded, hookPattern), options, null, cancellation),
            warn, progress, cancellation).Select(r => new ProbeCheckpoint(r.Checkpoint.Step, r.Checkpoint.Tokens, r.Report)).ToArray());

    /// <summary>The hooks a probe reads: <paramref name="pattern"/> resolved on the model, or every residual-stream point.</summary>
    public static IReadOnlyList<string> Hooks(LoadedModel loaded, string? pattern) =>
        pattern is null ? Activations.HookSelection.ResidualStream(loaded.Model.Config) : Activations.HookSelection.Resolve(loaded.Model, pattern);

    public static ConceptsAcrossTraining Concepts(string run, ProbeDataset dataset, Func<LoadedModel, ConceptOptions> options, Action<string>? warn = null,
        Action<string, int, int>? progress = null, CancellationToken cancellation = default) =>
        new(run, Run(run, loaded => ConceptAnalysis.Run(loaded, dataset, options(loaded), null, cancellation), warn, progress, cancellation)
            .Select(r => new ConceptCheckpoint(r.Checkpoint.Step, r.Checkpoint.Tokens, r.Report)).ToArray());
}

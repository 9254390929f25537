using System.Text.Json;

namespace Pinpoint.Training;

/// <summary>Where a run stands: written last into each checkpoint folder, so its presence marks the checkpoint complete.</summary>
public sealed record TrainingState
{
    public int Step { get; init; }
    public long TokensSeen { get; init; }
    public string Architecture { get; init; } = "";
    public double? LastTrainLoss { get; init; }
    public double? LastValidationLoss { get; init; }
    /// <summary>
    /// What <see cref="LastValidationLoss"/> was measured on: the run's <see cref="TrainConfig.Data"/> (the corpus's held-out
    /// split, or repeated random tokens); absent in checkpoints written before it was recorded.
    /// </summary>
    public string? ValidationData { get; init; }
    /// <summary>For a run started from another run's checkpoint (<see cref="TrainConfig.Init"/>): that checkpoint, its step and tokens.</summary>
    public string? InitFrom { get; init; }
    public int StartStep { get; init; }
    public long StartTokens { get; init; }
    /// <summary>
    /// For a run that grew its init checkpoint into a larger shape (<see cref="ModelGrowth"/>): the shape it grew from, as
    /// <see cref="CheckpointModel.Describe"/> writes it; kept through resumes, absent when the run did not grow.
    /// </summary>
    public string? GrownFrom { get; init; }

    public const string FileName = "trainer_state.json";

    public static TrainingState Load(string checkpointDir)
    {
        var path = Path.Combine(checkpointDir, FileName);
        try
        {
            return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), TrainConfig.Json)
                   ?? throw new InvalidDataException($"{path}: empty trainer state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid trainer state ({e.Message})");
        }
    }
}

/// <summary>One line of metrics.jsonl.</summary>
public sealed record MetricsRecord
{
    public int Step { get; init; }
    public long Tokens { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValLoss { get; init; }
    public double? LearningRate { get; init; }
    public double? GradNorm { get; init; }
    public double? TokensPerSecond { get; init; }
    /// <summary>Training-dynamics metrics recorded at checkpoints (induction score, previous-token score, accuracies).</summary>
    public Dictionary<string, double>? Dynamics { get; init; }
    /// <summary>Where a run started from a checkpoint began (absent for runs from scratch); step and tokens above include it.</summary>
    public int? StartStep { get; init; }
    public long? StartTokens { get; init; }
}

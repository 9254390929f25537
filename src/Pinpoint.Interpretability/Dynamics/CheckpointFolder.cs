using System.Text.Json;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Dynamics;

/// <summary>One complete checkpoint: its folder, step and tokens seen, and what its recorded validation loss was measured on (from its trainer state).</summary>
public sealed record Checkpoint(string Folder, int Step, long Tokens, double? RecordedValidationLoss, string? ValidationData = null);

/// <summary>
/// The checkpoints of a <c>pinpoint train</c> run (its <c>checkpoints/</c> folder) or of any folder of checkpoint
/// folders, in step order. A checkpoint is complete once its trainer state exists (the trainer writes it last);
/// others are being written or were cut off and are skipped with a warning. All must share one shape and tokenizer.
/// </summary>
public static class CheckpointFolder
{
    public static IReadOnlyList<Checkpoint> Find(string run, Action<string>? warn = null)
    {
        if (!Directory.Exists(run)) throw new DirectoryNotFoundException($"{run}: no such run folder");
        var root = Directory.Exists(Path.Combine(run, Trainer.CheckpointsFolder)) ? Path.Combine(run, Trainer.CheckpointsFolder) : run;
        var complete = new List<Checkpoint>();
        foreach (var folder in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            bool hasModel = File.Exists(Path.Combine(folder, "config.json")) && File.Exists(Path.Combine(folder, "model.safetensors"));
            bool hasState = File.Exists(Path.Combine(folder, TrainingState.FileName));
            if (hasModel && hasState)
            {
                var state = TrainingState.Load(folder);
                complete.Add(new Checkpoint(folder, state.Step, state.TokensSeen, state.LastValidationLoss, state.ValidationData));
            }
            else if (hasModel || hasState || Path.GetFileName(folder).StartsWith("step-", StringComparison.Ordinal))
                warn?.Invoke($"{folder}: incomplete checkpoint (no {(hasState ? "model" : TrainingState.FileName)}; still being written?), skipped");
        }
        if (complete.Count == 0) throw new InvalidDataException($"{run}: no complete checkpoints (expected step-NNNNNNN folders with config.json, model.safetensors and {TrainingState.FileName})");
        if (complete.GroupBy(c => c.Step).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InvalidDataException($"{run}: checkpoints {string.Join(" and ", twice.Select(c => Path.GetFileName(c.Folder)))} are both at step {twice.Key}; mixed runs in one folder");
        CheckSameModel(complete);
        return complete.OrderBy(c => c.Step).ToList();
    }

    /// <summary>Refuses checkpoints of different shapes or tokenizers, naming the first that differs from the first checkpoint.</summary>
    private static void CheckSameModel(List<Checkpoint> checkpoints)
    {
        var first = checkpoints[0];
        var (firstShape, firstTokenizer) = (Shape(first.Folder), TokenizerHash(first.Folder));
        foreach (var c in checkpoints.Skip(1))
        {
            var shape = Shape(c.Folder);
            if (shape != firstShape)
                throw new InvalidDataException($"{c.Folder}: a {shape} model, but {Path.GetFileName(first.Folder)} is a {firstShape} model; checkpoints of different shapes in one folder"
                    + (TrainingState.Load(c.Folder).GrownFrom is null ? "" : " (the run grew its init checkpoint: read the checkpoints before and after the growth as separate folders)"));
            if (TokenizerHash(c.Folder) != firstTokenizer)
                throw new InvalidDataException($"{c.Folder}: its tokenizer differs from {Path.GetFileName(first.Folder)}'s; checkpoints of different tokenizers in one folder");
        }
    }

    private static string Shape(string folder) => CheckpointModel.Describe(CheckpointModel.Config(folder));

    private static string TokenizerHash(string folder) => CheckpointModel.TokenizerHash(TokenizerDiscovery.Find(folder));

    /// <summary>Validation loss by step from the run's metrics.jsonl (absent when the folder is not a run's).</summary>
    public static Dictionary<int, double> ValidationLosses(string run)
    {
        var path = Path.Combine(run, Trainer.MetricsFile);
        var losses = new Dictionary<int, double>();
        if (!File.Exists(path)) return losses;
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Length == 0) continue;
            MetricsRecord record;
            try { record = JsonSerializer.Deserialize<MetricsRecord>(text, Trainer.MetricsJson)!; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: {e.Message}"); }
            if (record.ValLoss is { } loss) losses[record.Step] = loss;
        }
        return losses;
    }
}

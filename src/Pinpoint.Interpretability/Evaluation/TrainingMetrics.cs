using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>
/// The training probe for a recipe's metrics: the mechanism metrics of <see cref="TrainingDynamics"/> plus, for each
/// score dataset (<c>*.jsonl</c>, target/foil items), its accuracy overall and per group.
/// </summary>
public static class TrainingMetrics
{
    public static TrainingProbe Probe(IEnumerable<string> metrics)
    {
        var all = metrics.ToList();
        var datasets = all.Where(m => m.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)).ToList();
        var dynamics = TrainingDynamics.Probe(all.Except(datasets));
        return (model, tokenizer) =>
        {
            var result = new Dictionary<string, double>(dynamics(model, tokenizer));
            foreach (var dataset in datasets)
            {
                if (tokenizer is null) throw new InvalidOperationException($"metric {dataset} needs a tokenizer");
                // Not disposed: the trainer owns the model and the tokenizer.
                var loaded = new LoadedModel(model, tokenizer, dataset, TensorFileFormat.Safetensors);
                var report = Scorer.Score(loaded, EvalDataset.ReadScoreItems(dataset));
                string key = Path.GetFileNameWithoutExtension(dataset);
                result[key + "_accuracy"] = report.Accuracy;
                foreach (var (group, _, accuracy) in report.Groups) result[$"{key}_{group}_accuracy"] = accuracy;
            }
            return result;
        };
    }
}

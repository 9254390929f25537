using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// Fills dashboards for any set of units (neurons at several hooks, SAE features) in one streaming pass over corpus
/// windows: one harvest of every hook the units read, each batch fed to one <see cref="DashboardAccumulator"/> per
/// unit set while the next forward pass runs. Memory is the accumulators plus three reused batches and one arena of
/// forward-pass tensors, whatever the corpus length.
/// </summary>
public static class DashboardBuilder
{
    public static IReadOnlyList<DashboardStore> Build(LoadedModel model, IReadOnlyList<DashboardUnits> units, IEnumerable<HarvestSequence> windows,
        IReadOnlyList<string> corpus, DashboardOptions options, int batchSize = ActivationHarvester.DefaultBatchSize,
        IProgress<HarvestProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (units.Count == 0) throw new ArgumentException("no units to build dashboards for");
        var hooks = units.Select(u => u.Hook).Distinct().ToList();
        var harvester = new ActivationHarvester(model.Model, hooks, HarvestPositions.Every, batchSize);
        var accumulators = units.Select(u => new DashboardAccumulator(u.Count, options)).ToList();
        var hookIndex = units.Select(u => hooks.IndexOf(u.Hook)).ToList();
        long windowCount = 0;
        int windowLength = 0;
        foreach (var batch in harvester.RunAsync(Counted(windows), progress, cancellation, reuseBatches: true).ToBlockingEnumerable(cancellation))
            for (int i = 0; i < units.Count; i++)
            {
                var values = units[i].Activations(batch.Values(hookIndex[i]), batch.Rows);
                accumulators[i].Add(values, batch.Rows, batch.Sources, batch.Positions, batch.Tokens);
            }
        if (windowCount == 0) throw new ArgumentException("the corpus gave no windows");

        IEnumerable<HarvestSequence> Counted(IEnumerable<HarvestSequence> source)
        {
            foreach (var w in source)
            {
                windowCount++;
                windowLength = Math.Max(windowLength, w.Ids.Length);
                yield return w;
            }
        }

        var stores = new List<DashboardStore>(units.Count);
        for (int i = 0; i < units.Count; i++)
        {
            var used = new HashSet<int>();
            var dashboards = Enumerable.Range(0, units[i].Count).Select(u => accumulators[i].Dashboard(u, used)).ToList();
            var (directions, note) = units[i].OutputDirections(model.Model);
            if (directions is not null)
            {
                var effects = LogitEffects.Of(model.Model, model.Tokenizer, directions, units[i].Count, options.LogitTokens);
                dashboards = dashboards.Select((d, u) => d with { Promotes = effects[u].Promotes, Suppresses = effects[u].Suppresses }).ToList();
            }
            var texts = used.Order().ToDictionary(id => id, model.Tokenizer.TokenText);
            stores.Add(new DashboardStore(ModelName(model), model.Model.Config.VocabSize, units[i].Hook, units[i].Kind == DashboardUnitKind.Neuron ? "neuron" : "feature", units[i].Sae, corpus,
                accumulators[i].Rows, windowCount, windowLength, options, note, texts, dashboards));
        }
        return stores;
    }

    /// <summary>How a store names its model: the model folder's (or file's) name.</summary>
    public static string ModelName(LoadedModel model) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Directory.Exists(model.Path) ? model.Path : Path.GetFileNameWithoutExtension(model.Path)));
}

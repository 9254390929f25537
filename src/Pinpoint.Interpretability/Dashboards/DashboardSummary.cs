namespace Pinpoint.Interpretability.Dashboards;

/// <summary>One written store: where it is and what its units look like overall.</summary>
/// <param name="DeadUnits">Units that never exceeded 0 on the corpus.</param>
/// <param name="Index">The HTML index, when pages were written.</param>
public sealed record DashboardFileSummary(string Hook, string Kind, int Units, string File, string? Index, int DeadUnits, double MedianDensity, double MaxDensity)
{
    public static DashboardFileSummary Of(DashboardStore store, string file, string? index)
    {
        var densities = store.Units.Select(u => u.Density).Order().ToList();
        return new DashboardFileSummary(store.Hook, store.Kind, store.Units.Count, file, index,
            store.Units.Count(u => u.Density == 0), densities[densities.Count / 2], densities[^1]);
    }
}

/// <summary>What <c>pinpoint neurons</c> and <c>pinpoint sae dashboards</c> report: the pass over the corpus and the stores it wrote.</summary>
public sealed record DashboardRunSummary(string Out, IReadOnlyList<string> Corpus, long Tokens, long Windows, double Seconds, double TokensPerSecond, IReadOnlyList<DashboardFileSummary> Stores);

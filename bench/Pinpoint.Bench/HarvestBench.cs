using System.Globalization;
using System.Text;
using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Bench;

/// <summary>
/// Harvesting every hook_resid_post (and hook_embed) at every token of corpus windows from the embedded model,
/// against the plain forward over the same batches, alternating round by round in the same run.
/// </summary>
public static class HarvestBench
{
    private const int Window = 128, Windows = 64, BatchSize = 8, Rounds = 5;

    public static int Run(string[] args)
    {
        string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var hooks = Option("--dashboard-hooks") ?? DashboardBench.DefaultHooks;
        if (Option("--child-tokens") is { } childTokens) return DashboardBench.Child(long.Parse(childTokens, CultureInfo.InvariantCulture), hooks);
        bool json = args.Contains("--json");
        var modelPath = Path.Combine(BenchPaths.RepoRoot(), "models", "default");
        var corpus = BenchPaths.SharedFile("corpus/tinystories_sample.txt", "the harvest corpus");
        using var loaded = ModelLoader.Load(modelPath);
        var model = loaded.Model;
        var sequences = HarvestSources.Corpus(loaded, [corpus], Window).Take(Windows).ToList();
        long tokens = sequences.Sum(s => (long)s.Ids.Length);
        var batches = sequences.Chunk(BatchSize).Select(c => TokenBatch.LeftPadded(c.Select(s => (IReadOnlyList<int>)s.Ids).ToList(), 0)).ToList();
        var harvester = new ActivationHarvester(model, HookSelection.ResidualStream(model.Config), HarvestPositions.Every, BatchSize);
        double checksum = 0;
        var best = BenchTiming.BestSeconds(Rounds, warmUpRounds: 2,
            () => { foreach (var b in batches) model.Forward(Compute.Eager, b); },
            () => { foreach (var b in batches) model.Forward(Compute.Eager, b, lastPositionOnly: true); },
            () => harvester.Run(sequences, b => checksum += b.Values(b.Hooks.Count - 1)[0]));
        var sizes = (Option("--dashboard-tokens") ?? DashboardBench.DefaultSizes).Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture));
        var dashboards = args.Contains("--no-dashboards") ? [] : DashboardBench.Run(sizes, hooks);
        var r = new Result(tokens, tokens / best[0], tokens / best[1], tokens / best[2], harvester.Hooks.Count, dashboards);
        Console.WriteLine(json ? r.Json() : r.Table());
        return double.IsFinite(checksum) ? 0 : 1;
    }

    private sealed record Result(long Tokens, double Forward, double ForwardLast, double Harvest, int Hooks, List<DashboardBench.Pass> Dashboards)
    {
        public string Json() => string.Create(CultureInfo.InvariantCulture,
            $"{{\"tokens\":{Tokens},\"hooks\":{Hooks},\"forward_tokens_per_s\":{Forward:F1},\"forward_last_position_tokens_per_s\":{ForwardLast:F1},\"harvest_tokens_per_s\":{Harvest:F1},\"ratio\":{Harvest / Forward:F3},\"ratio_vs_last_position\":{Harvest / ForwardLast:F3},\"dashboards\":[{string.Join(",", Dashboards.Select(d => $"{{\"tokens\":{d.Tokens},\"hooks\":\"{d.Hooks}\",\"units\":{d.Units},\"seconds\":{d.Seconds:F1},\"tokens_per_s\":{d.TokensPerSecond:F1},\"pass_rss_mb\":{d.PassRssBytes / 1048576.0:F1},\"peak_rss_mb\":{d.PeakRssBytes / 1048576.0:F1},\"live_heap_mb\":{d.LiveHeapBytes / 1048576.0:F1},\"store_mb\":{d.StoreBytes / 1048576.0:F2}}}"))}]}}");

        public string Table()
        {
            var sb = new StringBuilder();
            sb.AppendLine(CultureInfo.InvariantCulture, $"Embedded model, {Tokens} corpus tokens in windows of {Window}, batches of {BatchSize}; harvest of {Hooks} hooks at every token");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  plain forward (all logits)      {Forward,10:F1} tokens/s");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  plain forward (last logits)     {ForwardLast,10:F1} tokens/s");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  harvest                         {Harvest,10:F1} tokens/s");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  ratio vs all logits             {Harvest / Forward,10:F3}");
            sb.Append(CultureInfo.InvariantCulture, $"  ratio vs last logits            {Harvest / ForwardLast,10:F3}");
            foreach (var d in Dashboards)
                sb.Append(CultureInfo.InvariantCulture, $"\n  neuron dashboards ({d.Units} units at {d.Hooks}) over {d.Tokens:N0} tokens: {d.TokensPerSecond:F1} tokens/s, RSS during the pass ≤ {d.PassRssBytes / 1048576.0:F1} MB, peak RSS {d.PeakRssBytes / 1048576.0:F1} MB, live heap {d.LiveHeapBytes / 1048576.0:F1} MB, store {d.StoreBytes / 1048576.0:F2} MB");
            return sb.ToString();
        }
    }
}

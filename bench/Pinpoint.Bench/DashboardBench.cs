using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Models.Loading;

namespace Pinpoint.Bench;

/// <summary>
/// Neuron dashboards of the embedded model over the shared corpus, one child process per corpus size so each size's
/// peak RSS is its own: memory must not grow with the number of tokens, and the store on disk neither.
/// </summary>
public static class DashboardBench
{
    public const string DefaultSizes = "1000000,4000000", DefaultHooks = "blocks.*.mlp.hook_post";
    private const int Window = 128;

    private static readonly string[] CorpusFiles = ["tinystories_sample.txt", "kjv_bible.txt", "tinyshakespeare.txt", "sotu.jsonl", "wordnet_glosses.tsv"];

    /// <param name="PassRssBytes">The largest resident set sampled after each batch of the streaming pass: what must not grow with the corpus.</param>
    /// <param name="PeakRssBytes">The process's peak resident set (VmHWM), including assembling the stores and writing them (fixed by the unit count).</param>
    /// <param name="LiveHeapBytes">Managed memory still reachable after the pass (a full collection first): the model and the finished stores; peak RSS adds what the GC had not yet returned.</param>
    public sealed record Pass(long Tokens, string Hooks, int Units, double Seconds, double TokensPerSecond, long PassRssBytes, long PeakRssBytes, long LiveHeapBytes, long StoreBytes);

    /// <summary>Runs one child per size and returns their passes.</summary>
    public static List<Pass> Run(IEnumerable<long> sizes, string hooks)
    {
        var passes = new List<Pass>();
        foreach (var size in sizes)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(DashboardBench).Assembly.Location);
            foreach (var a in new[] { "harvest", "--child-tokens", size.ToString(CultureInfo.InvariantCulture), "--dashboard-hooks", hooks }) start.ArgumentList.Add(a);
            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0) throw new BenchSetupException($"dashboard pass over {size} tokens failed (exit {child.ExitCode})");
            passes.Add(JsonSerializer.Deserialize<Pass>(output)!);
        }
        return passes;
    }

    /// <summary>The child: one dashboard pass over the first <paramref name="tokens"/> corpus tokens, the store written to a temporary folder; prints its <see cref="Pass"/>.</summary>
    public static int Child(long tokens, string hooks)
    {
        var files = CorpusFiles.Select(f => BenchPaths.SharedFile("corpus/" + f, "the dashboard corpus")).ToList();
        using var loaded = ModelLoader.Load(Path.Combine(BenchPaths.RepoRoot(), "models", "default"));
        var units = HookSelection.Resolve(loaded.Model, hooks).Select(h => DashboardUnits.Neurons(loaded.Model, h)).ToList();
        var windows = HarvestSources.FirstTokens(HarvestSources.Corpus(loaded, files, Window), tokens);
        var clock = Stopwatch.StartNew();
        long passRss = 0;
        var sampler = new SynchronousProgress(_ => passRss = Math.Max(passRss, StatusBytes("VmRSS:")));
        var stores = DashboardBuilder.Build(loaded, units, windows, files, new DashboardOptions(), progress: sampler);
        double seconds = clock.Elapsed.TotalSeconds;
        long live = GC.GetTotalMemory(forceFullCollection: true);
        var folder = Directory.CreateTempSubdirectory("pinpoint-dash-bench-").FullName;
        try
        {
            long bytes = stores.Sum(s => new FileInfo(DashboardFiles.Write(folder, s)).Length);
            long peak = StatusBytes("VmHWM:");
            if (stores[0].Tokens < tokens) throw new BenchSetupException($"the corpus holds only {stores[0].Tokens} tokens, fewer than {tokens}");
            Console.WriteLine(JsonSerializer.Serialize(new Pass(stores[0].Tokens, hooks, stores.Sum(s => s.Units.Count), seconds, stores[0].Tokens / seconds, passRss, peak, live, bytes)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        return 0;
    }

    /// <summary>A size field of /proc/self/status (VmRSS: now, VmHWM: the peak) in bytes.</summary>
    private static long StatusBytes(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        throw new BenchSetupException($"/proc/self/status has no {field} line (not Linux?)");
    }

    /// <summary>Reports on the harvesting thread as they happen (<see cref="Progress{T}"/> would post them elsewhere, late).</summary>
    private sealed class SynchronousProgress(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}

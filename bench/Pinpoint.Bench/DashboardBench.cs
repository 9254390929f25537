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

    public sealed record Pass(long Tokens, string Hooks, int Units, double Seconds, double TokensPerSecond, long PeakRssBytes, long StoreBytes);

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
        long taken = 0;
        var windows = HarvestSources.Corpus(loaded, files, Window).TakeWhile(w => (taken += w.Ids.Length) - w.Ids.Length < tokens);
        var clock = Stopwatch.StartNew();
        var stores = DashboardBuilder.Build(loaded, units, windows, files, new DashboardOptions());
        double seconds = clock.Elapsed.TotalSeconds;
        var folder = Directory.CreateTempSubdirectory("pinpoint-dash-bench-").FullName;
        try
        {
            long bytes = stores.Sum(s => new FileInfo(DashboardFiles.Write(folder, s)).Length);
            long peak = Process.GetCurrentProcess().PeakWorkingSet64;
            if (stores[0].Tokens < tokens) throw new BenchSetupException($"the corpus holds only {stores[0].Tokens} tokens, fewer than {tokens}");
            Console.WriteLine(JsonSerializer.Serialize(new Pass(stores[0].Tokens, hooks, stores.Sum(s => s.Units.Count), seconds, stores[0].Tokens / seconds, peak, bytes)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
        return 0;
    }
}

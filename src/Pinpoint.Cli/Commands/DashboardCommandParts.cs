using System.Diagnostics;
using System.Globalization;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Loading;

namespace Pinpoint.Cli.Commands;

/// <summary>Options and the run shared by the dashboard commands (<c>neurons</c>, <c>sae dashboards</c>) and the search commands.</summary>
internal static class DashboardCommandParts
{
    public static readonly CliOption Corpus = new("corpus", "FILES", "comma-separated corpus files (txt, jsonl, tsv, as for train; required)");
    public static readonly CliOption Top = new("top", "N", "top-activating contexts kept per unit (default 20)");
    public static readonly CliOption Tokens = new("tokens", "N", "stop after about this many corpus tokens (default: the whole corpus)");
    public static readonly CliOption TokensPerFile = new("tokens-per-file", "N", "take about this many tokens from the start of each corpus file, so every file is represented (default: all)");
    public static readonly CliOption Context = new("context", "N", "tokens per corpus window (default 128, at most the model's context)");
    public static readonly CliOption Samples = new("samples", "N", "contexts sampled per activation interval (default 3; 10 intervals)");
    public static readonly CliOption Out = new("out", "DIR", "folder for the JSON stores and HTML pages (required)");
    public static readonly CliOption NoHtml = new("no-html", null, "write only the JSON stores, no HTML pages");
    public static readonly CliOption Compact = new("compact", null, "write each store as HOOK.json.br: Brotli-compressed JSON, context activations rounded to 0.1-1% of the unit's maximum (small enough to ship beside a model)");
    public static readonly CliOption Text = new("text", "TEXT", "the text to search (required)");
    public static readonly CliOption SearchTop = new("top", "N", "units listed overall and per token (default 10)");
    public static readonly CliOption Token = new("token", "P", "search only token position P (0-based; negative counts from the end)");
    public static readonly CliOption Sae = new("sae", "DIR", "SAE folder (SAELens, sparsify or dictionary_learning layout; required)");

    public static IReadOnlyList<CliOption> BuildOptions => [Corpus, Top, Tokens, TokensPerFile, Context, Samples, Out, NoHtml, Compact];
    public static IReadOnlyList<CliOption> SearchOptions => [Text, SearchTop, Token];

    /// <summary>Reads the SAE and checks it fits the model's hook.</summary>
    public static (Sae Sae, string Path) OpenSae(CliArgs args, LoadedModel model)
    {
        var path = args.RequiredString(Sae);
        var sae = SaeLensFormat.Read(path);
        SaeSplice.CheckFits(sae, model.Model, path);
        return (sae, path);
    }

    /// <summary>Builds the units' dashboards in one pass over the corpus, writes them under --out and reports.</summary>
    public static int Build(CliArgs args, CommandOutput output, LoadedModel model, IReadOnlyList<DashboardUnits> units)
    {
        var files = args.RequiredString(Corpus).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (files.Length == 0) throw new CliException("--corpus names no files");
        var outDir = Path.GetFullPath(args.RequiredString(Out));
        var options = new DashboardOptions { Top = args.Int(Top, 20, min: 1, max: 10_000), SamplesPerInterval = args.Int(Samples, 3, min: 0, max: 1000) };
        int context = args.Int(Context, Math.Min(128, model.Model.Config.ContextLength), min: 1, max: model.Model.Config.ContextLength);
        long maxTokens = args.Int(Tokens, int.MaxValue, min: 1), perFile = args.Int(TokensPerFile, int.MaxValue, min: 1);
        foreach (var file in files)
            if (!File.Exists(file)) throw new FileNotFoundException($"--corpus: {file} does not exist");
        var windows = HarvestSources.FirstTokens(files.SelectMany(file => HarvestSources.FirstTokens(HarvestSources.Corpus(model, [file], context), perFile)), maxTokens)
            .Select((w, index) => w with { Source = index });
        var progress = Console.IsErrorRedirected ? null : new Progress<HarvestProgress>(p => Console.Error.Write($"\rdashboards: {p.Tokens:N0} tokens"));
        var clock = Stopwatch.StartNew();
        var stores = DashboardBuilder.Build(model, units, windows, files, options, progress: progress);
        double seconds = clock.Elapsed.TotalSeconds;
        if (progress is not null) Console.Error.WriteLine();
        var written = stores.Select(store =>
        {
            var file = DashboardFiles.Write(outDir, store, args.Flag(Compact));
            var index = args.Flag(NoHtml) ? null : DashboardFiles.WritePages(outDir, store);
            return DashboardFileSummary.Of(store, file, index);
        }).ToList();
        var summary = new DashboardRunSummary(outDir, files, stores[0].Tokens, stores[0].Windows, seconds, stores[0].Tokens / Math.Max(seconds, 1e-9), written);
        if (output.Json)
        {
            output.WriteJson(summary);
            return 0;
        }
        var table = CommandOutput.NewTable("hook", "units", "dead", "median density", "max density", "store", "index");
        foreach (var s in written)
            CommandOutput.AddRow(table, s.Hook, CommandOutput.Int(s.Units), CommandOutput.Int(s.DeadUnits), CommandOutput.Number(s.MedianDensity, "P2"),
                CommandOutput.Number(s.MaxDensity, "P2"), s.File, s.Index ?? "—");
        output.Write(table);
        output.Text.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{summary.Tokens:N0} tokens in {summary.Windows:N0} windows, {seconds:F1} s ({summary.TokensPerSecond:N0} tokens/s)"));
        return 0;
    }

    /// <summary>Which units fire on --text (at --token when given), from the model directly.</summary>
    public static int Search(CliArgs args, CommandOutput output, LoadedModel model, IReadOnlyList<DashboardUnits> units)
    {
        var text = args.RequiredString(Text);
        int top = args.Int(SearchTop, 10, min: 1, max: 10_000);
        int? position = args.String(Token) is null ? null : args.Int(Token, 0);
        var result = UnitSearch.Run(model, units, text, top, position);
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        foreach (var hook in result.Hooks)
        {
            var table = CommandOutput.NewTable("hook", hook.Kind, "activation", "at token");
            foreach (var hit in hook.Top)
                CommandOutput.AddRow(table, hook.Hook, CommandOutput.Int(hit.Unit), CommandOutput.Number(hit.Activation), $"{hit.Position} {CommandOutput.Quote(hit.Token)}");
            output.Write(table);
        }
        return 0;
    }
}

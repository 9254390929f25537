using System.IO.Compression;
using System.Text.Json;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// Dashboard stores on disk: one JSON file per hook (<c>HOOK.json</c> for neurons, <c>HOOK.features.json</c> for SAE
/// features) in a folder, or its compact form (<see cref="DashboardCompaction"/>, Brotli-compressed, the name ending
/// in <c>.json.br</c>) that ships beside a model. A model's own stores live in <c>dashboards/</c> beside its weights,
/// where <see cref="TryOpenFor"/> finds either form.
/// </summary>
public static class DashboardFiles
{
    public const string ModelFolder = "dashboards";
    public const string CompressedSuffix = ".br";

    public static string FileName(string hook, string kind, bool compact = false) =>
        (kind == "feature" ? $"{hook}.features.json" : $"{hook}.json") + (compact ? CompressedSuffix : "");

    /// <summary>
    /// Writes the store into <paramref name="folder"/> (atomically: a temporary file renamed) and returns its path;
    /// <paramref name="compact"/> writes the compact, Brotli-compressed form.
    /// </summary>
    public static string Write(string folder, DashboardStore store, bool compact = false)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName(store.Hook, store.Kind, compact));
        var temporary = path + ".tmp";
        using (var file = File.Create(temporary))
        {
            if (compact)
            {
                using var brotli = new BrotliStream(file, CompressionLevel.SmallestSize);
                JsonSerializer.Serialize(brotli, DashboardCompaction.Compact(store), ReportJson.Options);
            }
            else JsonSerializer.Serialize(file, store, ReportJson.Options);
        }
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>
    /// Writes the store's HTML into <paramref name="folder"/>: an index (<see cref="DashboardHtmlReport.IndexPage"/>) and one page
    /// per unit beside it; returns the index's path.
    /// </summary>
    public static string WritePages(string folder, DashboardStore store)
    {
        var index = Path.Combine(folder, DashboardHtmlReport.IndexPage(store));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, DashboardHtmlReport.UnitPage(store, 0)))!);
        foreach (var unit in store.Units)
            File.WriteAllText(Path.Combine(folder, DashboardHtmlReport.UnitPage(store, unit.Unit)), DashboardHtmlReport.Unit(store, unit));
        File.WriteAllText(index, DashboardHtmlReport.Index(store));
        return index;
    }

    /// <summary>Reads a store, compressed when the name ends in <c>.br</c>; a file that is not one is an error naming it.</summary>
    public static DashboardStore Read(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var stream = path.EndsWith(CompressedSuffix, StringComparison.Ordinal) ? new BrotliStream(file, CompressionMode.Decompress) : (Stream)file;
            var store = JsonSerializer.Deserialize<DashboardStore>(stream, ReportJson.Options);
            if (store?.Units is null || store.Hook is null || store.TokenTexts is null) throw new InvalidDataException($"{path}: not a dashboard store (hook, units or token_texts missing)");
            return store;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a dashboard store ({e.Message})");
        }
        catch (InvalidOperationException e) when (e.InnerException is null)
        {
            // BrotliStream's answer to bytes that are not Brotli.
            throw new InvalidDataException($"{path}: not a Brotli-compressed dashboard store ({e.Message})");
        }
    }

    /// <summary>Where a model's own stores live: <c>dashboards/</c> in its folder (beside its weights file).</summary>
    public static string DefaultFolder(LoadedModel model) =>
        Path.Combine(Directory.Exists(model.Path) ? model.Path : Path.GetDirectoryName(Path.GetFullPath(model.Path))!, ModelFolder);

    /// <summary>
    /// The neuron store for <paramref name="hook"/> in <paramref name="folder"/> (default: the model's own
    /// <see cref="DefaultFolder"/>), if there is one (the full form preferred to the compact one). A store built for
    /// another model (vocabulary size or unit count differ) is an error naming the file, never silently shown.
    /// </summary>
    public static bool TryOpenFor(LoadedModel model, string hook, out DashboardStore? store, string? folder = null, string kind = "neuron")
    {
        folder ??= DefaultFolder(model);
        store = null;
        var path = new[] { false, true }.Select(compact => Path.Combine(folder, FileName(hook, kind, compact))).FirstOrDefault(File.Exists);
        if (path is null) return false;
        var read = Read(path);
        if (read.VocabSize != model.Model.Config.VocabSize || read.Hook != hook
            || (kind == "neuron" && read.Units.Count != model.Model.Config.DMlp))
            throw new InvalidDataException($"{path}: built for another model ({read.Model}: vocabulary {read.VocabSize}, {read.Units.Count} units at {read.Hook})");
        store = read;
        return true;
    }
}

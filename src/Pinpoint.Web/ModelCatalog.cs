using Pinpoint.Training;
using Pinpoint.Models.Loading;

namespace Pinpoint.Web;

/// <summary>A path a request named that lies outside the allowed roots (answered 403).</summary>
public sealed class ForbiddenPathException(string message) : Exception(message);

/// <summary>A model busy with a long job (answered 409).</summary>
public sealed class ModelBusyException(string message) : Exception(message);

/// <summary>A model or run under one of the roots, named by its path relative to that root.</summary>
public sealed record CatalogEntry(string Name, string Root, string Kind);

/// <summary>
/// Models and training runs under the allowed roots. Names are paths relative to a root; every name is resolved
/// (symlinks followed to their final target) and must stay inside the root it was found under. Loaded models are
/// kept (a few at a time) and each has a gate so that its work runs one request at a time.
/// </summary>
public sealed class ModelCatalog : IDisposable
{
    /// <summary>Loaded models kept at once; the least recently used idle one is closed to make room.</summary>
    public const int MaxLoaded = 3;
    private const int ListDepth = 4;

    private readonly IReadOnlyList<string> _roots;
    private readonly string _defaultModel;
    private readonly Dictionary<string, ModelSlot> _loaded = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ModelCatalog(IReadOnlyList<string> roots, string defaultModel)
    {
        if (roots.Count == 0) throw new ArgumentException("no model folders to serve");
        _roots = roots.Select(r => Directory.Exists(r) ? RealPath(r) : throw new DirectoryNotFoundException($"--models: folder {r} does not exist")).Distinct().ToList();
        _defaultModel = defaultModel;
    }

    public IReadOnlyList<string> Roots => _roots;

    /// <summary>The model a request that names none gets.</summary>
    public string DefaultModelName => _defaultModel;

    /// <summary>Model folders (config.json), .gguf files and llama2.c .bin files under the roots.</summary>
    public List<CatalogEntry> Models() => Walk((dir, root) =>
    {
        // A .bin beside a config.json is that folder's PyTorch weights, not a llama2.c model.
        bool hf = File.Exists(Path.Combine(dir, "config.json"));
        return (hf ? [new CatalogEntry(Relative(root, dir), root, "hf")] : Array.Empty<CatalogEntry>())
            .Concat(Directory.EnumerateFiles(dir, "*.gguf").Select(f => new CatalogEntry(Relative(root, f), root, "gguf")))
            .Concat(hf ? [] : Directory.EnumerateFiles(dir, "*.bin").Select(f => new CatalogEntry(Relative(root, f), root, "llama2c")));
    });

    /// <summary>Training runs: folders with a metrics.jsonl.</summary>
    public List<CatalogEntry> Runs() => Walk((dir, root) =>
        File.Exists(Path.Combine(dir, Trainer.MetricsFile)) ? [new CatalogEntry(Relative(root, dir), root, "run")] : []);

    private List<CatalogEntry> Walk(Func<string, string, IEnumerable<CatalogEntry>> found)
    {
        var entries = new List<CatalogEntry>();
        foreach (var root in _roots)
        {
            var pending = new Queue<(string Dir, int Depth)>([(root, 0)]);
            while (pending.TryDequeue(out var next))
            {
                try
                {
                    entries.AddRange(found(next.Dir, root));
                    if (next.Depth < ListDepth)
                        foreach (var sub in Directory.EnumerateDirectories(next.Dir).Order(StringComparer.Ordinal))
                            if (new DirectoryInfo(sub).LinkTarget is null) pending.Enqueue((sub, next.Depth + 1));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* unreadable folders are not listed */ }
            }
        }
        return entries;
    }

    private static string Relative(string root, string path)
    {
        var relative = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
        return relative == "." ? "" : relative;
    }

    /// <summary>The model a request names (the default model when it names none), resolved as <see cref="Resolve"/> does.</summary>
    public string ResolveModel(string? name) => Resolve(string.IsNullOrWhiteSpace(name) ? _defaultModel : name, "model");

    /// <summary>
    /// The real path of <paramref name="name"/> (relative to a root, or absolute inside one) — the first root where it
    /// exists. Throws <see cref="ForbiddenPathException"/> for anything that resolves outside the roots.
    /// </summary>
    public string Resolve(string name, string what)
    {
        name = name.Trim();
        if (name.Split('/', '\\').Contains("..")) throw new ForbiddenPathException($"{what} '{name}': '..' is not allowed; name a path under the served folders");
        foreach (var root in _roots)
        {
            var candidate = Path.GetFullPath(Path.IsPathRooted(name) ? name : Path.Combine(root, name));
            if (!File.Exists(candidate) && !Directory.Exists(candidate)) continue;
            var real = RealPath(candidate);
            if (Inside(real, root)) return real;
            if (!Path.IsPathRooted(name)) throw new ForbiddenPathException($"{what} '{name}' leads outside the served folders (a symbolic link)");
        }
        if (Path.IsPathRooted(name) && !_roots.Any(r => Inside(Path.GetFullPath(name), r)))
            throw new ForbiddenPathException($"{what} '{name}' is outside the served folders");
        throw new FileNotFoundException($"{what} '{name}' not found under the served folders ({string.Join(", ", _roots)})");
    }

    private static bool Inside(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link along it replaced by its final target (what realpath(3) gives).</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            current = info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target
                ? RealPath(target.FullName)
                : next;
        }
        return current;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the named model once no other work holds it; several models work in parallel.
    /// A model running a long job answers 409 at once instead of queueing behind it.
    /// </summary>
    public async Task<T> WithModel<T>(string? name, Func<LoadedModel, T> work, CancellationToken cancel)
    {
        var slot = await Enter(ResolveModel(name), job: null, cancel);
        try
        {
            return await Task.Run(() => work(slot.Model.Value), cancel);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    /// <summary>Takes the model for a long job (409 when it already runs one); dispose the lease to give it back.</summary>
    public async Task<(LoadedModel Model, IDisposable Lease)> TakeForJob(string? name, string job)
    {
        var slot = await Enter(ResolveModel(name), job, CancellationToken.None);
        try
        {
            return (await Task.Run(() => slot.Model.Value), new Lease(slot));
        }
        catch
        {
            slot.Job = null;
            slot.Gate.Release();
            throw;
        }
    }

    /// <summary>The model's slot with its gate taken (and <paramref name="job"/> recorded when one is given).</summary>
    private async Task<ModelSlot> Enter(string path, string? job, CancellationToken cancel)
    {
        while (true)
        {
            ModelSlot slot;
            lock (_lock)
            {
                slot = Slot(path);
                if (slot.Job is { } other) throw new ModelBusyException($"model '{slot.Path}' is busy with {other}; cancel it or wait for it to finish");
                if (job is not null) slot.Job = job;
            }
            await slot.Gate.WaitAsync(cancel);
            if (!slot.Closed) return slot;
            slot.Gate.Release(); // closed to make room while this request waited: open it again
        }
    }

    private sealed class Lease(ModelSlot slot) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            slot.Job = null;
            slot.Gate.Release();
        }
    }

    private ModelSlot Slot(string path)
    {
        if (!_loaded.TryGetValue(path, out var slot))
        {
            if (_loaded.Count >= MaxLoaded) EvictIdle();
            _loaded[path] = slot = new ModelSlot(path);
        }
        slot.LastUsed = Environment.TickCount64;
        return slot;
    }

    private void EvictIdle()
    {
        foreach (var slot in _loaded.Values.OrderBy(s => s.LastUsed))
        {
            if (slot.Job is not null || !slot.Gate.Wait(0)) continue;
            _loaded.Remove(slot.Path);
            slot.Closed = true;
            if (slot.Model.IsValueCreated) slot.Model.Value.Dispose();
            slot.Gate.Release();
            return;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var slot in _loaded.Values.Where(s => s.Model.IsValueCreated)) slot.Model.Value.Dispose();
            _loaded.Clear();
        }
    }

    private sealed class ModelSlot(string path)
    {
        public string Path { get; } = path;
        // Loaded under the gate, so one thread loads; a failed load is not remembered (the file may be fixed).
        public Lazy<LoadedModel> Model { get; } = new(() => ModelLoader.Load(path), LazyThreadSafetyMode.PublicationOnly);
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public long LastUsed { get; set; }
        public volatile string? Job;
        public volatile bool Closed;
    }
}

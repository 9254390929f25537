using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// Called at a hook point with the activation. Return null to leave it unchanged, or a tensor of the same shape to
/// replace it (the rest of the forward pass then uses the replacement).
/// </summary>
public delegate Tensor? HookFunction(Tensor activation, string hookName);

/// <summary>What one forward pass does at its hook points: functions to call and activations to keep.</summary>
public sealed class HookSet
{
    private readonly Dictionary<string, List<HookFunction>> _functions = new(StringComparer.Ordinal);
    private readonly Func<string, bool>? _cacheFilter;
    private readonly DType _cacheDType;
    private readonly HookSet? _next;
    private int[] _positions = [];
    private Compute _compute = Compute.Eager;

    /// <param name="cacheFilter">Hook names whose activations are stored in <see cref="Cache"/>; null stores none.</param>
    /// <param name="cacheDType">
    /// F32 keeps the activations themselves (no copy); F16 or BF16 stores half-size rounded copies instead, for
    /// caches of large models (read them back with <c>ToArray()</c>/<c>Contiguous()</c>).
    /// </param>
    public HookSet(Func<string, bool>? cacheFilter = null, DType cacheDType = DType.F32)
    {
        if (cacheDType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"activation caches are F32, F16 or BF16, not {cacheDType}", nameof(cacheDType));
        _cacheFilter = cacheFilter;
        _cacheDType = cacheDType;
    }

    private HookSet(HookSet? next) => _next = next;

    /// <summary>An empty set whose hooks run before <paramref name="next"/>'s at every hook point (a model's interventions before a call's own hooks).</summary>
    internal static HookSet Before(HookSet? next) => new(next);

    /// <summary>
    /// The position of every token of the forward pass now running in its own sequence, batch-major (padding skipped,
    /// earlier KV-cached tokens counted), so a position-dependent hook acts on a cached step exactly as on a full recompute.
    /// </summary>
    public IReadOnlyList<int> Positions => _positions;

    /// <summary>The forward pass's compute context: hooks that change an activation with its ops keep gradients flowing.</summary>
    public Compute Compute => _compute;

    internal void BeginForward(Compute cx, int[] positions)
    {
        _compute = cx;
        _positions = positions;
        _next?.BeginForward(cx, positions);
    }

    public ActivationCache Cache { get; } = new();

    /// <summary>Hook names that have functions or sources and that the model must have (it checks them before it runs).</summary>
    public IEnumerable<string> Names => _functions.Keys.Concat(_sources.Keys).Where(n => !_nested.Contains(n));

    private readonly HashSet<string> _nested = new(StringComparer.Ordinal);

    /// <summary>Declares hook points that a function of this set creates itself (e.g. an SAE's hook_sae_* under its hook).</summary>
    public HookSet DeclareNested(IEnumerable<string> hookNames)
    {
        _nested.UnionWith(hookNames);
        return this;
    }

    public HookSet Add(string hookName, HookFunction function)
    {
        if (!_functions.TryGetValue(hookName, out var list)) _functions[hookName] = list = [];
        list.Add(function);
        return this;
    }

    private readonly Dictionary<string, Func<string, Tensor>> _sources = new(StringComparer.Ordinal);

    /// <summary>
    /// Makes <paramref name="source"/> produce the activation at <paramref name="hookName"/> instead of the model, which
    /// then skips what only feeds it: a norm whose output is supplied, or a block's attention input (its norm and Q/K/V
    /// projection) when its query, key and value are all supplied, unless a hook reads that input. Functions at the
    /// point still run on the supplied activation, which must have the shape the model's own would have.
    /// </summary>
    public HookSet Supply(string hookName, Func<string, Tensor> source)
    {
        if (!_sources.TryAdd(hookName, source)) throw new ArgumentException($"the activation at {hookName} already has a source");
        return this;
    }

    /// <summary>Whether a source supplies the activation at this hook point.</summary>
    public bool Supplies(string hookName) => _sources.ContainsKey(hookName) || (_next?.Supplies(hookName) ?? false);

    /// <summary>The supplied activation at <paramref name="hookName"/> after the point's functions and cache, as <see cref="Apply"/> gives it.</summary>
    public Tensor ApplySupplied(string hookName) => Apply(hookName, Source(hookName));

    private Tensor Source(string hookName) => _sources.TryGetValue(hookName, out var source) ? source(hookName)
        : _next?.Source(hookName) ?? throw new InvalidOperationException($"no source supplies {hookName}");

    /// <summary>Whether anything happens at this hook point (so optional activations must be computed).</summary>
    public bool Wants(string hookName) =>
        _functions.ContainsKey(hookName) || (_cacheFilter?.Invoke(hookName) ?? false) || (_next?.Wants(hookName) ?? false);

    /// <summary>Whether a function may replace the activation at this hook point.</summary>
    public bool Intercepts(string hookName) => _functions.ContainsKey(hookName) || (_next?.Intercepts(hookName) ?? false);

    /// <summary>Runs the functions registered at <paramref name="hookName"/>, then caches the (possibly replaced) activation.</summary>
    public Tensor Apply(string hookName, Tensor activation)
    {
        if (_functions.TryGetValue(hookName, out var list))
        {
            foreach (var f in list)
            {
                var replacement = f(activation, hookName);
                if (replacement is null) continue;
                if (!replacement.SameShape(activation))
                    throw new ArgumentException($"hook at {hookName} returned {replacement.Describe()} in place of {activation.Describe()}");
                replacement.Name ??= hookName;
                activation = replacement;
            }
        }
        if (_cacheFilter?.Invoke(hookName) ?? false) Cache.Store(hookName, _cacheDType == DType.F32 ? activation : Narrowed(activation, hookName));
        return _next is null ? activation : _next.Apply(hookName, activation);
    }

    private Tensor Narrowed(Tensor activation, string hookName)
    {
        var values = activation.Contiguous().Span;
        return new Tensor(Storage.FromSingles(values, _cacheDType), 0, activation.Shape.ToArray()) { Name = hookName };
    }
}

/// <summary>Activations stored by name during a forward pass.</summary>
public sealed class ActivationCache
{
    private readonly Dictionary<string, Tensor> _entries = new(StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _entries.Keys;

    public bool Contains(string hookName) => _entries.ContainsKey(hookName);

    public Tensor this[string hookName] => _entries.TryGetValue(hookName, out var t)
        ? t
        : throw new KeyNotFoundException($"activation '{hookName}' was not cached ({Closest(hookName)})");

    private string Closest(string hookName)
    {
        if (_entries.Count == 0) return "nothing was cached";
        var closest = _entries.Keys.OrderBy(k => UnknownNameException.EditDistance(hookName, k)).ThenBy(k => k, StringComparer.Ordinal).Take(3);
        return $"closest cached: {string.Join(", ", closest)}";
    }

    internal void Store(string hookName, Tensor activation) => _entries[hookName] = activation;

    public long TotalElements => _entries.Values.Sum(t => (long)t.Size);

    /// <summary>Bytes the cached activations occupy (4 per element in F32, 2 in F16/BF16).</summary>
    public long TotalBytes => _entries.Values.Sum(t => (long)t.Size * t.DType.SizeInBytes());
}

/// <summary>A lasting change to a model's forward pass (a steering vector, a directional ablation), registered afresh on each pass's hooks.</summary>
public interface IHookIntervention
{
    /// <summary>Adds this intervention's functions to one forward pass's hooks; throws when it does not fit the model.</summary>
    void Register(HookSet hooks, TransformerConfig config);
}

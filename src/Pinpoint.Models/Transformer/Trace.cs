using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// One forward pass written as ordinary C# against named activations, in the spirit of nnsight's trace: edit
/// (slice, assign, add), replace or save the activation at any TransformerLens hook, and ask for the gradient of a
/// scalar <see cref="Metric"/> with respect to any hook or weight — the tape is built and cleared here.
/// <code>
/// var run = model.Trace(ids)
///     .Edit("blocks.1.attn.hook_z", z => z[.., ^1, 3].Fill(0))
///     .Save("blocks.1.hook_resid_post")
///     .Grad("blocks.0.hook_resid_post")
///     .Run(Metrics.LogitDiff(paris, rome));
/// </code>
/// Names are checked when given: an unknown one throws <see cref="UnknownNameException"/> listing the closest.
/// </summary>
public sealed class Trace
{
    private readonly HookedTransformer _model;
    private readonly TokenBatch _batch;
    private readonly List<(string Hook, HookFunction Function)> _functions = [];
    private readonly HashSet<string> _saved = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hookGradients = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _weightGradients = new(StringComparer.Ordinal);
    private readonly Dictionary<Tensor, Tensor> _differentiable = new(ReferenceEqualityComparer.Instance);
    private Compute _cx = Compute.Eager;

    internal Trace(HookedTransformer model, TokenBatch batch)
    {
        _model = model;
        _batch = batch;
    }

    /// <summary>
    /// Runs <paramref name="edit"/> on the activation at <paramref name="hook"/> during the pass; the rest of the
    /// pass sees the edited values. Several edits at one hook run in order.
    /// </summary>
    public Trace Edit(string hook, Action<ActivationEdit> edit)
    {
        _model.CheckHookName(hook);
        _functions.Add((hook, (activation, _) =>
        {
            var values = activation.Clone();
            var assigned = Tensor.Zeros(activation.Shape.ToArray());
            edit(new ActivationEdit(values, assigned, hook));
            return _cx.Assign(activation, values, assigned);
        }));
        return this;
    }

    /// <summary>
    /// Replaces the activation at <paramref name="hook"/> with what <paramref name="replacement"/> returns (same
    /// shape; a constant for gradients, which stop there). Return null to keep it.
    /// </summary>
    public Trace Replace(string hook, Func<Tensor, Tensor?> replacement) => Replace(hook, (activation, _) => replacement(activation));

    /// <summary>
    /// Replaces the activation at <paramref name="hook"/> with a function of it computed with the pass's
    /// <see cref="Compute"/> ops (<c>(x, cx) =&gt; cx.Scale(x, 2)</c>), so gradients flow through the replacement to
    /// earlier hooks and weights. Return null to keep it.
    /// </summary>
    public Trace Replace(string hook, Func<Tensor, Compute, Tensor?> replacement)
    {
        _model.CheckHookName(hook);
        _functions.Add((hook, (activation, _) => replacement(activation, _cx)));
        return this;
    }

    /// <summary>Keeps the activations at these hooks (after any edits) in the result.</summary>
    public Trace Save(params string[] hooks)
    {
        foreach (var hook in hooks)
        {
            _model.CheckHookName(hook);
            _saved.Add(hook);
        }
        return this;
    }

    /// <summary>
    /// Asks for the gradient of the run's metric with respect to each named hook activation (after edits) or weight
    /// (a name from <see cref="HookedTransformer.WeightNames"/>).
    /// </summary>
    public Trace Grad(params string[] names)
    {
        foreach (var name in names)
        {
            if (_model.HasHook(name)) _hookGradients.Add(name);
            else if (_model.WeightNames.Contains(name)) _weightGradients[name] = _model.Weight(name);
            else UnknownNameException.ThrowIfUnknown(name, _model.HookNamesInOrder().Concat(_model.WeightNames).ToList(), "hook or weight");
        }
        return this;
    }

    /// <summary>
    /// Runs the pass. With a <paramref name="metric"/> its value is in the result; gradients asked for with
    /// <see cref="Grad"/> need one. The model's weights are left exactly as they were.
    /// </summary>
    public TraceResult Run(Metric? metric = null)
    {
        bool differentiate = _hookGradients.Count > 0 || _weightGradients.Count > 0;
        if (differentiate && metric is null) throw new InvalidOperationException("gradients need a metric: pass one to Run");
        var tape = differentiate ? new Tape() : null;
        _cx = new Compute(tape);
        var hooks = new HookSet(name => _saved.Contains(name) || _hookGradients.Contains(name));
        foreach (var (hook, function) in _functions) hooks.Add(hook, function);
        foreach (var hook in _hookGradients)
            hooks.Add(hook, (activation, _) =>
            {
                activation.RequiresGrad = true;
                return null;
            });
        // Only the weights asked about take gradients in this pass (a trained model's weights may all be marked);
        // every weight's flag and gradient are restored afterwards.
        var weights = _model.Weights.Parameters().Select(p => p.Tensor).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>().ToList();
        var weightState = weights.Select(w => (Weight: w, w.RequiresGrad, w.Grad)).ToList();
        try
        {
            foreach (var w in weights)
            {
                w.RequiresGrad = differentiate && _weightGradients.Values.Contains(w, ReferenceEqualityComparer.Instance);
                w.Grad = null;
            }
            var logits = ModelForGradients().Forward(_cx, _batch, hooks);
            double? value = null;
            if (metric is not null)
            {
                var scalar = metric(_cx, logits);
                if (scalar.Size != 1)
                    throw new ArgumentException($"the metric returned {scalar.Describe()}; a gradient (and a metric value) needs one element — reduce it with Sum or pick one logit");
                value = scalar.ToScalar();
                tape?.Backward(scalar);
            }
            var gradients = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var hook in _hookGradients) gradients[hook] = GradientOf(hook, hooks.Cache[hook]);
            foreach (var (name, weight) in _weightGradients) gradients[name] = GradientOf(name, _differentiable.GetValueOrDefault(weight, weight));
            var saved = _saved.ToDictionary(h => h, h => hooks.Cache[h].Contiguous(), StringComparer.Ordinal);
            return new TraceResult(logits, value, saved, gradients);
        }
        finally
        {
            foreach (var (weight, requiresGrad, grad) in weightState)
            {
                weight.RequiresGrad = requiresGrad;
                weight.Grad = grad;
            }
            _cx = Compute.Eager;
        }
    }

    /// <summary>
    /// The model itself, unless a weight asked about is half precision (the ops take no gradient into F16/BF16
    /// weights): then the same model with F32 copies of just those weights, which take the gradients.
    /// </summary>
    private HookedTransformer ModelForGradients()
    {
        _differentiable.Clear();
        foreach (var w in _weightGradients.Values.Where(w => !w.IsWritable))
        {
            var copy = w.Clone();
            copy.RequiresGrad = true;
            _differentiable[w] = copy;
        }
        return _differentiable.Count == 0
            ? _model
            : new HookedTransformer(_model.Config, _model.Weights.Map(t => _differentiable.GetValueOrDefault(t, t)));
    }

    private static Tensor GradientOf(string name, Tensor t) =>
        t.Grad?.Clone() ?? throw new InvalidOperationException($"no gradient reached {name}: the metric does not depend on it through the taped pass");
}

/// <summary>What a <see cref="Trace"/> run produced: logits, the metric's value, saved activations and gradients.</summary>
public sealed class TraceResult
{
    private readonly IReadOnlyDictionary<string, Tensor> _saved;
    private readonly IReadOnlyDictionary<string, Tensor> _gradients;

    internal TraceResult(Tensor logits, double? metric, IReadOnlyDictionary<string, Tensor> saved, IReadOnlyDictionary<string, Tensor> gradients)
    {
        Logits = logits;
        Metric = metric;
        _saved = saved;
        _gradients = gradients;
    }

    /// <summary>[batch, length, vocab].</summary>
    public Tensor Logits { get; }

    /// <summary>The metric's value; null when the run had none.</summary>
    public double? Metric { get; }

    /// <summary>A saved activation (as the rest of the pass saw it, edits included).</summary>
    public Tensor this[string hook] => Lookup(_saved, hook, "saved");

    /// <summary>∂metric/∂(hook activation or weight), same shape as it.</summary>
    public Tensor Grad(string name) => Lookup(_gradients, name, "asked a gradient of");

    private static Tensor Lookup(IReadOnlyDictionary<string, Tensor> entries, string name, string what)
    {
        if (entries.TryGetValue(name, out var t)) return t;
        var had = entries.Count == 0 ? "none" : string.Join(", ", entries.Keys);
        throw new KeyNotFoundException($"'{name}' was not {what} in this trace ({what}: {had})");
    }
}

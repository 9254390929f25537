using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Autograd;

/// <summary>
/// Records the backward step of every op run through a <see cref="Compute"/> that owns this tape, and replays
/// them in reverse. Each tape is independent: two models (or two passes) in one process never share state.
/// Gradients of intermediate tensors live in the tape's arena and are released by <see cref="Clear"/>;
/// gradients of leaves (parameters, or activations marked RequiresGrad) are ordinary tensors that persist.
/// </summary>
public sealed class Tape
{
    private readonly List<Action> _backward = [];
    private readonly List<Tensor> _intermediates = [];
    private readonly HashSet<Tensor> _intermediateSet = new(ReferenceEqualityComparer.Instance);
    private readonly TensorArena _gradArena = new();

    private readonly Dictionary<Tensor, FactoredGradient> _factored = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Tensor> _frozen = new(ReferenceEqualityComparer.Instance);

    public int Count => _backward.Count;

    /// <summary>
    /// Gives the rank-2 weight <paramref name="weight"/> (which must require a gradient) a <see cref="FactoredGradient"/>
    /// instead of a dense one: products and embedding lookups record their factors, so the weight may be quantized.
    /// </summary>
    public FactoredGradient FactorGradientOf(Tensor weight)
    {
        if (weight.Rank != 2) throw new ArgumentException($"a factored gradient needs a matrix, got {weight.Describe()}", nameof(weight));
        if (!_factored.TryGetValue(weight, out var factors)) _factored[weight] = factors = new FactoredGradient(weight.Dim(0), weight.Dim(1));
        return factors;
    }

    /// <summary>The factored gradient of <paramref name="weight"/>, or null when it takes a dense one.</summary>
    public FactoredGradient? FactorsOf(Tensor weight) => _factored.GetValueOrDefault(weight);

    /// <summary>
    /// Leaves that take no gradient on this tape although they require one — a trainable model's parameters, when only
    /// activations' gradients are wanted (attribution patching): ops treat them as constants and skip their parameter
    /// branches, so no weight or embedding-table gradient is computed or accumulated.
    /// </summary>
    public void Freeze(IEnumerable<Tensor> leaves)
    {
        foreach (var t in leaves) _frozen.Add(t);
    }

    /// <summary>Whether <paramref name="t"/> takes a gradient on this tape: it requires one and is not frozen.</summary>
    public bool Wants(Tensor t) => t.RequiresGrad && (_frozen.Count == 0 || !_frozen.Contains(t));

    /// <summary>Registers the backward step of an op whose output was just computed.</summary>
    public void Record(Action backward) => _backward.Add(backward);

    /// <summary>Marks a tensor as produced on this tape, so its gradient is scratch that <see cref="Clear"/> releases.</summary>
    public void AddIntermediate(Tensor t)
    {
        if (_intermediateSet.Add(t)) _intermediates.Add(t);
    }

    /// <summary>The gradient buffer of <paramref name="t"/>, zero-filled on first use.</summary>
    public Span<float> GradOf(Tensor t)
    {
        if (t.Grad is null)
        {
            t.Grad = _intermediateSet.Contains(t) ? _gradArena.Allocate(t.Shape.ToArray()) : Tensor.Zeros(t.Shape.ToArray());
        }
        else if (!t.Grad.SameShape(t))
        {
            throw new InvalidOperationException($"gradient of {t.Describe()} has shape {t.Grad.ShapeString}");
        }
        return t.Grad.Span;
    }

    /// <summary>Back-propagates from a one-element tensor (seeded with 1).</summary>
    public void Backward(Tensor scalar)
    {
        if (scalar.Size != 1) throw new ArgumentException($"Backward needs a one-element tensor, got {scalar.Describe()}; pass an output gradient instead", nameof(scalar));
        Backward(scalar, Tensor.Full(1f, scalar.Shape.ToArray()));
    }

    /// <summary>Back-propagates <paramref name="outputGrad"/> (same shape as <paramref name="output"/>) through every recorded op.</summary>
    public void Backward(Tensor output, Tensor outputGrad)
    {
        if (!output.SameShape(outputGrad))
            throw new ArgumentException($"output gradient {outputGrad.ShapeString} does not match output {output.ShapeString}", nameof(outputGrad));
        var g = GradOf(output);
        var seed = outputGrad.Contiguous().Span;
        for (int i = 0; i < g.Length; i++) g[i] += seed[i];
        for (int i = _backward.Count - 1; i >= 0; i--)
        {
            if (StepObserver is null)
            {
                _backward[i]();
                continue;
            }
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            _backward[i]();
            StepObserver(_backward[i], System.Diagnostics.Stopwatch.GetElapsedTime(start));
        }
    }

    /// <summary>When set, called after each backward step with the step and its duration (profilers use it).</summary>
    public Action<Action, TimeSpan>? StepObserver { get; set; }

    /// <summary>Forgets recorded ops and releases intermediate gradients; leaf gradients are kept.</summary>
    public void Clear()
    {
        foreach (var t in _intermediates) t.Grad = null;
        _intermediates.Clear();
        _intermediateSet.Clear();
        _backward.Clear();
        _gradArena.Reset();
    }
}

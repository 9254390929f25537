using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// An activation inside a <see cref="Trace.Edit"/>: read it, slice it with NumPy-style indices and write through the
/// slices. Writes are recorded so gradients stay exact: assigned elements stop the gradient to everything before
/// the hook, added values pass it unchanged.
/// </summary>
public sealed class ActivationEdit
{
    private readonly Tensor _values;
    private readonly Tensor _assigned;

    internal ActivationEdit(Tensor values, Tensor assigned, string path)
    {
        _values = values;
        _assigned = assigned;
        Path = path;
        _values.Name = path;
    }

    /// <summary>The hook name and the indices taken so far, for messages: <c>blocks.1.attn.hook_z[.., ^1, 3]</c>.</summary>
    public string Path { get; }

    public ReadOnlySpan<int> Shape => _values.Shape;

    /// <summary>A copy of the current values (the edits so far included).</summary>
    public Tensor Values => _values.Clone();

    /// <summary>One element's current value.</summary>
    public float this[params int[] index] => _values[index];

    /// <summary>A slice that reads and writes this activation: <c>z[.., ^1, 3]</c> is head 3 at the last position of every sequence.</summary>
    public ActivationEdit this[params TensorIndex[] index] =>
        new(_values[index], _assigned[index], $"{Path}[{string.Join(", ", index.Select(i => i.ToString()))}]");

    /// <summary>Sets every element (e.g. 0 to ablate).</summary>
    public void Fill(float value)
    {
        _values.Fill(value);
        _assigned.Fill(1);
    }

    /// <summary>Overwrites the elements with <paramref name="source"/> (same shape), e.g. a cached activation from another prompt.</summary>
    public void Assign(Tensor source)
    {
        Checked(() => _values.CopyFrom(source));
        _assigned.Fill(1);
    }

    /// <summary>Adds <paramref name="delta"/> (same shape), e.g. a steering vector.</summary>
    public void Add(Tensor delta) => Checked(() => _values.AddFrom(delta));

    private void Checked(Action write)
    {
        try
        {
            write();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{Path}: {e.Message}", e);
        }
    }
}

namespace Pinpoint.Engine.Tensors;

/// <summary>
/// Bump allocator for activations: a forward (or backward) pass takes buffers from a few large chunks and
/// <see cref="Reset"/> hands them all back at once, so steady-state passes allocate no large arrays.
/// Tensors taken from an arena are valid only until the next <see cref="Reset"/>.
/// </summary>
public sealed class TensorArena
{
    private const int MinChunkElements = 1 << 20;
    private readonly List<float[]> _chunks = [];
    private int _chunk;
    private int _used;

    /// <summary>Total floats held by the arena's chunks.</summary>
    public long CapacityElements => _chunks.Sum(c => (long)c.Length);

    /// <summary>A zero-filled contiguous tensor.</summary>
    public Tensor Allocate(params int[] shape)
    {
        var t = AllocateUninitialized(shape);
        t.Span.Clear();
        return t;
    }

    /// <summary>A contiguous tensor with arbitrary contents, for kernels that overwrite every element.</summary>
    public Tensor AllocateUninitialized(params int[] shape)
    {
        int size = Tensor.Product(shape);
        while (_chunk < _chunks.Count && _chunks[_chunk].Length - _used < size)
        {
            _chunk++;
            _used = 0;
        }
        if (_chunk == _chunks.Count)
        {
            _chunks.Add(GC.AllocateUninitializedArray<float>(Math.Max(size, MinChunkElements)));
            _used = 0;
        }
        var storage = new Storage(_chunks[_chunk], _used, size);
        _used += size;
        return new Tensor(storage, 0, shape);
    }

    public void Reset()
    {
        _chunk = 0;
        _used = 0;
    }
}

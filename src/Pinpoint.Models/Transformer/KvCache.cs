using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>Keys and values of every layer for the tokens seen so far, so generation feeds only new tokens.</summary>
public sealed class KvCache
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public int BatchSize { get; }
    public int Capacity { get; }
    /// <summary>Tokens stored so far.</summary>
    public int Length { get; private set; }

    public KvCache(TransformerConfig config, int batchSize, int capacity)
    {
        BatchSize = batchSize;
        Capacity = capacity;
        _keys = new Tensor[config.NLayers];
        _values = new Tensor[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            _keys[l] = Tensor.Zeros(batchSize, capacity, config.NKvHeads, config.DHead);
            _values[l] = Tensor.Zeros(batchSize, capacity, config.NKvHeads, config.DHead);
        }
    }

    /// <summary>Writes the new keys/values [B, T, Hkv, D] of one layer after the stored ones; returns views of all of them.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        if (Frozen) throw new InvalidOperationException("the KV cache is frozen: a forward extends it without storing");
        int t = keys.Dim(1);
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache holds {Capacity} tokens; cannot add {t} to the {Length} stored");
        Copy(keys, _keys[layer]);
        Copy(values, _values[layer]);
        return (_keys[layer].Slice(1, 0, Length + t), _values[layer].Slice(1, 0, Length + t));

        void Copy(Tensor source, Tensor destination)
        {
            var src = source.Contiguous().Span;
            var dst = destination.Span;
            int row = destination.Dim(2) * destination.Dim(3);
            for (int b = 0; b < BatchSize; b++)
                src.Slice(b * t * row, t * row).CopyTo(dst.Slice((b * Capacity + Length) * row, t * row));
        }
    }

    /// <summary>
    /// Whether the stored tokens are a fixed prefix: each later forward attends to them and to its own tokens, and stores
    /// nothing, so several continuations of one prefix (a clean and a counterfactual ending, taped or not) can share it.
    /// </summary>
    public bool Frozen { get; private set; }

    /// <summary>Keeps the first <paramref name="length"/> tokens stored so far as a fixed prefix (see <see cref="Frozen"/>) and forgets the rest.</summary>
    public void Freeze(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"the KV cache holds {Length} tokens");
        Length = length;
        Frozen = true;
    }

    /// <summary>
    /// A frozen cache's keys/values of one layer followed by the new ones [B, T, Hkv, D], joined on <paramref name="cx"/>'s
    /// tape so gradients reach the new ones (the prefix is a constant).
    /// </summary>
    public (Tensor Keys, Tensor Values) Extend(Compute cx, int layer, Tensor keys, Tensor values)
    {
        if (!Frozen) throw new InvalidOperationException("only a frozen KV cache is extended without storing; call Freeze first");
        if (keys.Dim(0) != BatchSize) throw new ArgumentException($"KV cache holds {BatchSize} sequences; cannot extend it by {keys.Dim(0)}");
        return (cx.Concat([_keys[layer].Slice(1, 0, Length), keys], 1), cx.Concat([_values[layer].Slice(1, 0, Length), values], 1));
    }

    /// <summary>Marks the tokens appended in this step as stored (after every layer has appended); a frozen cache stays as it is.</summary>
    public void Advance(int tokens)
    {
        if (!Frozen) Length += tokens;
    }
}

using System.Text;
using Pinpoint.Engine.Kernels;

namespace Pinpoint.Engine.Tensors;

/// <summary>
/// A dense n-dimensional tensor: a view (offset, shape, strides in elements) over a <see cref="Storage"/>.
/// Views, slices and transposes never copy; <see cref="Contiguous"/> copies only when it must.
/// </summary>
public sealed class Tensor
{
    private readonly int[] _shape;
    private readonly int[] _strides;

    public Storage Storage { get; }
    public int Offset { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<int> Strides => _strides;
    public int Rank => _shape.Length;
    public int Size { get; }
    public DType DType => Storage.DType;
    public bool IsContiguous { get; }

    /// <summary>Optional label used in error messages and hook names.</summary>
    public string? Name { get; set; }

    /// <summary>Whether gradients flow into this tensor when it takes part in a taped computation.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>Accumulated gradient (same shape, contiguous F32), allocated by the tape during backward.</summary>
    public Tensor? Grad { get; set; }

    public Tensor(Storage storage, int offset, int[] shape, int[]? strides = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(shape);
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"negative dimension in shape {Format(shape)}", nameof(shape));
        _shape = (int[])shape.Clone();
        _strides = strides is null ? ContiguousStrides(shape) : (int[])strides.Clone();
        if (_strides.Length != _shape.Length)
            throw new ArgumentException($"strides {Format(_strides)} do not match shape {Format(_shape)}", nameof(strides));
        Storage = storage;
        Offset = offset;
        long size = 1;
        foreach (var d in _shape) size *= d;
        if (size > int.MaxValue) throw new ArgumentException($"shape {Format(_shape)} has more than 2^31 elements", nameof(shape));
        Size = (int)size;
        CheckBounds();
        IsContiguous = ComputeIsContiguous();
    }

    public static Tensor Zeros(params int[] shape) => new(Storage.Allocate(Product(shape)), 0, shape);

    public static Tensor FromArray(float[] data, params int[] shape)
    {
        if (Product(shape) != data.Length)
            throw new ArgumentException($"{data.Length} values cannot fill shape {Format(shape)}", nameof(shape));
        return new Tensor(new Storage(data), 0, shape);
    }

    public static Tensor Scalar(float value) => FromArray([value]);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Zeros(shape);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>Elements of a contiguous F32 tensor, in row-major order.</summary>
    public Span<float> Span
    {
        get
        {
            if (!IsContiguous) throw new InvalidOperationException($"tensor {Describe()} is not contiguous; call Contiguous() first");
            return Storage.AsFloat32().Slice(Offset, Size);
        }
    }

    public int Dim(int axis) => _shape[NormalizeAxis(axis)];

    public float this[params int[] index]
    {
        get => ElementAt(ElementOffset(index));
        set
        {
            CheckWritable();
            Storage.AsFloat32()[ElementOffset(index)] = value;
        }
    }

    /// <summary>
    /// A view, without copying, picked by one <see cref="TensorIndex"/> per leading axis (missing trailing axes are
    /// kept whole): <c>z[.., ^1, 3]</c>. Integers alone select an element (the float indexer); add a range for a view
    /// (<c>t[0, ..]</c>). Writing to the view (<see cref="Fill"/>, <see cref="CopyFrom"/>) writes
    /// into this tensor.
    /// </summary>
    public Tensor this[params TensorIndex[] index]
    {
        get
        {
            if (index.Length > Rank) throw new ArgumentException($"{index.Length} indices for {Describe()}", nameof(index));
            var view = this;
            int axis = 0; // the view's axis the next index applies to; picked axes disappear
            for (int i = 0; i < index.Length; i++)
            {
                if (index[i].IsRange)
                {
                    var (start, length) = index[i].Span(_shape[i], i, Describe());
                    view = view.Slice(axis++, start, length);
                }
                else
                {
                    view = view.Select(axis, index[i].Position(_shape[i], i, Describe()));
                }
            }
            view.Name = Name;
            return view;
        }
    }

    /// <summary>Sets every element of this (possibly strided) view to <paramref name="value"/>.</summary>
    public void Fill(float value)
    {
        CheckWritable();
        var floats = Storage.AsFloat32();
        if (IsContiguous)
        {
            floats.Slice(Offset, Size).Fill(value);
            return;
        }
        var runs = new StridedRuns(this);
        while (runs.MoveNext(out int o))
        {
            if (runs.Stride == 1) floats.Slice(o, runs.Length).Fill(value);
            else for (int j = 0; j < runs.Length; j++, o += runs.Stride) floats[o] = value;
        }
    }

    /// <summary>Writes <paramref name="source"/>'s elements (same shape, any layout or dtype) into this view.</summary>
    public void CopyFrom(Tensor source) => Write(SourceValues(source, nameof(CopyFrom)), add: false);

    /// <summary>Adds <paramref name="source"/>'s elements (same shape, any layout or dtype) to this view's.</summary>
    public void AddFrom(Tensor source) => Write(SourceValues(source, nameof(AddFrom)), add: true);

    /// <summary>Adds <paramref name="values"/> (this view's elements in row-major order) to this view's elements.</summary>
    public void AddFrom(ReadOnlySpan<float> values)
    {
        if (values.Length != Size) throw new ArgumentException($"AddFrom: {values.Length} values for {Describe()}", nameof(values));
        Write(values, add: true);
    }

    /// <summary>
    /// Whether elements can be written: F32 storage (memory-mapped files are mapped copy-on-write, so writes stay
    /// private). F16/BF16 storage is read as float but not written.
    /// </summary>
    public bool IsWritable => DType == DType.F32;

    public float ToScalar()
    {
        if (Size != 1) throw new InvalidOperationException($"ToScalar() needs a one-element tensor, got shape {ShapeString}");
        return this[new int[Rank]];
    }

    /// <summary>Same elements, new shape (one dimension may be -1). Requires a contiguous tensor; never copies.</summary>
    public Tensor View(params int[] shape)
    {
        var resolved = ResolveShape(shape);
        if (!IsContiguous) throw new InvalidOperationException($"cannot view non-contiguous {Describe()} as {Format(resolved)}; call Contiguous() first");
        return new Tensor(Storage, Offset, resolved) { Name = Name };
    }

    /// <summary>Like <see cref="View"/> but copies when the tensor is not contiguous.</summary>
    public Tensor Reshape(params int[] shape) => (IsContiguous ? this : Contiguous()).View(shape);

    /// <summary>Elements [start, start+length) along one axis, without copying.</summary>
    public Tensor Slice(int axis, int start, int length)
    {
        axis = NormalizeAxis(axis);
        if (start < 0 || length < 0 || start + length > _shape[axis])
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) is outside axis {axis} of {Describe()}");
        var shape = (int[])_shape.Clone();
        shape[axis] = length;
        return new Tensor(Storage, Offset + start * _strides[axis], shape, _strides);
    }

    /// <summary>Index one axis away, without copying.</summary>
    public Tensor Select(int axis, int index)
    {
        axis = NormalizeAxis(axis);
        if ((uint)index >= (uint)_shape[axis])
            throw new ArgumentOutOfRangeException(nameof(index), $"index {index} is outside axis {axis} of {Describe()}");
        var shape = new int[Rank - 1];
        var strides = new int[Rank - 1];
        for (int i = 0, j = 0; i < Rank; i++)
        {
            if (i == axis) continue;
            shape[j] = _shape[i];
            strides[j++] = _strides[i];
        }
        return new Tensor(Storage, Offset + index * _strides[axis], shape, strides);
    }

    /// <summary>Swaps two axes by swapping strides, without copying.</summary>
    public Tensor Transpose(int axis0, int axis1)
    {
        axis0 = NormalizeAxis(axis0);
        axis1 = NormalizeAxis(axis1);
        var shape = (int[])_shape.Clone();
        var strides = (int[])_strides.Clone();
        (shape[axis0], shape[axis1]) = (shape[axis1], shape[axis0]);
        (strides[axis0], strides[axis1]) = (strides[axis1], strides[axis0]);
        return new Tensor(Storage, Offset, shape, strides);
    }

    /// <summary>Reorders axes without copying: result axis i is this tensor's axis <paramref name="order"/>[i].</summary>
    public Tensor Permute(params int[] order)
    {
        if (order.Length != Rank || order.Distinct().Count() != Rank || order.Any(a => (uint)a >= (uint)Rank))
            throw new ArgumentException($"permutation {Format(order)} does not fit {Describe()}", nameof(order));
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            shape[i] = _shape[order[i]];
            strides[i] = _strides[order[i]];
        }
        return new Tensor(Storage, Offset, shape, strides);
    }

    /// <summary>This tensor if it is contiguous F32, else a contiguous F32 copy.</summary>
    public Tensor Contiguous() => IsContiguous && DType == DType.F32 ? this : CopyToNew();

    /// <summary>A contiguous F32 tensor with the same values (this tensor itself when it already is one).</summary>
    public Tensor ToFloat32() => Contiguous();

    /// <summary>A fresh contiguous F32 copy, always.</summary>
    public Tensor Clone() => CopyToNew();

    public float[] ToArray() => Contiguous().Span.ToArray();

    /// <summary>Copies (and converts to F32) the elements into <paramref name="destination"/> in row-major order.</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length < Size)
            throw new ArgumentException($"destination of {destination.Length} elements is too small for {Describe()}", nameof(destination));
        if (IsContiguous)
        {
            if (DType == DType.F32) Storage.AsFloat32().Slice(Offset, Size).CopyTo(destination);
            else if (DType.IsQuantized()) Dequantize(Offset, destination[..Size]);
            else HalfConversion.ToSingle(Storage.AsHalfBits().Slice(Offset, Size), DType, destination);
            return;
        }
        CopyStrided(destination[..Size]);
    }

    public string ShapeString => Format(_shape);

    public string Describe() => Name is null ? $"tensor{ShapeString}" : $"'{Name}'{ShapeString}";

    public override string ToString() => $"{Describe()} {DType}";

    public bool SameShape(Tensor other) => _shape.AsSpan().SequenceEqual(other._shape);

    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    public static int Product(ReadOnlySpan<int> shape)
    {
        long p = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {Format(shape)}", nameof(shape));
            p *= d;
            if (p > int.MaxValue) throw new ArgumentException($"shape {Format(shape)} has more than 2^31 elements", nameof(shape));
        }
        return (int)p;
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    private void CheckWritable()
    {
        if (!IsWritable)
            throw new InvalidOperationException($"{Describe()} is read-only ({DType}); write to a Clone(), which is F32");
    }

    private ReadOnlySpan<float> SourceValues(Tensor source, string operation)
    {
        if (!SameShape(source))
            throw new ArgumentException($"{operation}: source {source.Describe()} does not match destination {Describe()}", nameof(source));
        // Reading from the destination's own storage while writing could see already-written elements.
        return (ReferenceEquals(source.Storage, Storage) ? source.Clone() : source.Contiguous()).Span;
    }

    /// <summary>
    /// Writes (or adds) row-major <paramref name="values"/> into this view. Column slices (q, k, v of a fused
    /// projection; one head of hook_z) have unit-stride rows: those go a vector at a time.
    /// </summary>
    private void Write(ReadOnlySpan<float> values, bool add)
    {
        CheckWritable();
        var floats = Storage.AsFloat32();
        if (IsContiguous)
        {
            WriteRun(floats.Slice(Offset, Size), values, add);
            return;
        }
        int read = 0;
        var runs = new StridedRuns(this);
        while (runs.MoveNext(out int o))
        {
            if (runs.Stride == 1)
            {
                WriteRun(floats.Slice(o, runs.Length), values.Slice(read, runs.Length), add);
                read += runs.Length;
                continue;
            }
            for (int j = 0; j < runs.Length; j++, o += runs.Stride) floats[o] = add ? floats[o] + values[read++] : values[read++];
        }
    }

    private static void WriteRun(Span<float> destination, ReadOnlySpan<float> values, bool add)
    {
        if (add) TensorPrimitives.Add(destination, values, destination);
        else values.CopyTo(destination);
    }

    private int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if ((uint)a >= (uint)Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside {Describe()}");
        return a;
    }

    private int ElementOffset(int[] index)
    {
        if (index.Length != Rank)
            throw new ArgumentException($"{index.Length} indices for {Describe()}; an element needs one per axis, a view needs a range among them (t[0, ..])", nameof(index));
        int o = Offset;
        for (int i = 0; i < Rank; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
                throw new IndexOutOfRangeException($"index {Format(index)} is outside {Describe()}");
            o += index[i] * _strides[i];
        }
        return o;
    }

    private int[] ResolveShape(int[] shape)
    {
        var resolved = (int[])shape.Clone();
        int inferred = Array.IndexOf(resolved, -1);
        if (inferred >= 0)
        {
            long known = 1;
            for (int i = 0; i < resolved.Length; i++) if (i != inferred) known *= resolved[i];
            if (known == 0 || Size % known != 0)
                throw new ArgumentException($"cannot view {Describe()} as {Format(shape)}", nameof(shape));
            resolved[inferred] = (int)(Size / known);
        }
        if (Product(resolved) != Size)
            throw new ArgumentException($"cannot view {Describe()} ({Size} elements) as {Format(resolved)}", nameof(shape));
        return resolved;
    }

    private void CheckBounds()
    {
        if (Size == 0)
        {
            if (Offset < 0 || Offset > Storage.Length) throw new ArgumentOutOfRangeException(nameof(Offset), $"offset {Offset} is outside storage of {Storage.Length} elements");
            return;
        }
        long lo = Offset, hi = Offset;
        for (int i = 0; i < Rank; i++)
        {
            long span = (long)(_shape[i] - 1) * _strides[i];
            if (span < 0) lo += span; else hi += span;
        }
        if (lo < 0 || hi >= Storage.Length)
            throw new ArgumentOutOfRangeException(nameof(Offset),
                $"view with offset {Offset}, shape {Format(_shape)}, strides {Format(_strides)} reaches elements [{lo}, {hi}] outside storage of {Storage.Length} elements");
    }

    private bool ComputeIsContiguous()
    {
        if (Size == 0) return true;
        int expected = 1;
        for (int i = Rank - 1; i >= 0; i--)
        {
            if (_shape[i] == 1) continue;
            if (_strides[i] != expected) return false;
            expected *= _shape[i];
        }
        return true;
    }

    private Tensor CopyToNew()
    {
        var copy = Zeros(_shape);
        CopyTo(copy.Span);
        copy.Name = Name;
        return copy;
    }

    private void CopyStrided(Span<float> destination)
    {
        int written = 0;
        var runs = new StridedRuns(this);
        if (DType.IsQuantized())
        {
            // Unit-stride runs (rows of a column slice) decode their blocks once; other strides go value by value.
            while (runs.MoveNext(out int o))
            {
                if (runs.Stride == 1) Dequantize(o, destination.Slice(written, runs.Length));
                else for (int j = 0; j < runs.Length; j++) destination[written + j] = ElementAt(o + j * runs.Stride);
                written += runs.Length;
            }
            return;
        }
        bool f32 = DType == DType.F32;
        var floats = f32 ? Storage.AsFloat32() : default;
        var halves = f32 ? default : Storage.AsHalfBits();
        while (runs.MoveNext(out int o))
        {
            for (int j = 0; j < runs.Length; j++, o += runs.Stride)
                destination[written++] = f32 ? floats[o] : HalfConversion.ToSingle(halves[o], DType);
        }
    }

    private float ElementAt(int offset)
    {
        if (DType == DType.F32) return Storage.AsFloat32()[offset];
        if (!DType.IsQuantized()) return HalfConversion.ToSingle(Storage.AsHalfBits()[offset], DType);
        float value = 0f;
        Dequantize(offset, new Span<float>(ref value));
        return value;
    }

    /// <summary>Storage elements [start, start + destination.Length) of quantized storage, decoded.</summary>
    private unsafe void Dequantize(int start, Span<float> destination)
    {
        fixed (byte* blocks = Storage.AsBytes())
        fixed (float* y = destination)
            BlockQuantization.DequantizeRange(DType, blocks, start, destination.Length, y);
    }
}

namespace Pinpoint.Models.Formats;

/// <summary>Value types of model metadata. The numbering is GGUF's, so GGUF files map onto it directly.</summary>
public enum MetadataType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>
/// One typed metadata value: a scalar (boxed CLR value of the matching type, or a string) or an array.
/// Arrays hold a typed CLR array (<c>byte[]</c>, <c>int[]</c>, <c>float[]</c>, <c>string[]</c>, ...) or, for
/// arrays of arrays, <c>MetadataValue[]</c>. Conversions widen numbers but never silently lose them.
/// </summary>
public sealed class MetadataValue
{
    public MetadataType Type { get; }

    /// <summary>Element type when <see cref="Type"/> is <see cref="MetadataType.Array"/>.</summary>
    public MetadataType ElementType { get; }

    public object Value { get; }

    private MetadataValue(MetadataType type, MetadataType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    public static MetadataValue From(byte v) => new(MetadataType.UInt8, default, v);
    public static MetadataValue From(sbyte v) => new(MetadataType.Int8, default, v);
    public static MetadataValue From(ushort v) => new(MetadataType.UInt16, default, v);
    public static MetadataValue From(short v) => new(MetadataType.Int16, default, v);
    public static MetadataValue From(uint v) => new(MetadataType.UInt32, default, v);
    public static MetadataValue From(int v) => new(MetadataType.Int32, default, v);
    public static MetadataValue From(float v) => new(MetadataType.Float32, default, v);
    public static MetadataValue From(bool v) => new(MetadataType.Bool, default, v);
    public static MetadataValue From(string v) => new(MetadataType.String, default, v ?? throw new ArgumentNullException(nameof(v)));
    public static MetadataValue From(ulong v) => new(MetadataType.UInt64, default, v);
    public static MetadataValue From(long v) => new(MetadataType.Int64, default, v);
    public static MetadataValue From(double v) => new(MetadataType.Float64, default, v);

    public static MetadataValue From(byte[] v) => new(MetadataType.Array, MetadataType.UInt8, v);
    public static MetadataValue From(sbyte[] v) => new(MetadataType.Array, MetadataType.Int8, v);
    public static MetadataValue From(ushort[] v) => new(MetadataType.Array, MetadataType.UInt16, v);
    public static MetadataValue From(short[] v) => new(MetadataType.Array, MetadataType.Int16, v);
    public static MetadataValue From(uint[] v) => new(MetadataType.Array, MetadataType.UInt32, v);
    public static MetadataValue From(int[] v) => new(MetadataType.Array, MetadataType.Int32, v);
    public static MetadataValue From(float[] v) => new(MetadataType.Array, MetadataType.Float32, v);
    public static MetadataValue From(bool[] v) => new(MetadataType.Array, MetadataType.Bool, v);
    public static MetadataValue From(string[] v) => new(MetadataType.Array, MetadataType.String, v);
    public static MetadataValue From(ulong[] v) => new(MetadataType.Array, MetadataType.UInt64, v);
    public static MetadataValue From(long[] v) => new(MetadataType.Array, MetadataType.Int64, v);
    public static MetadataValue From(double[] v) => new(MetadataType.Array, MetadataType.Float64, v);

    /// <summary>An array of arrays; all elements must be arrays themselves.</summary>
    public static MetadataValue FromArrays(MetadataValue[] v)
    {
        if (v.Any(e => e.Type != MetadataType.Array)) throw new ArgumentException("every element of an array of arrays must be an array", nameof(v));
        return new(MetadataType.Array, MetadataType.Array, v);
    }

    public static implicit operator MetadataValue(string v) => From(v);
    public static implicit operator MetadataValue(int v) => From(v);
    public static implicit operator MetadataValue(uint v) => From(v);
    public static implicit operator MetadataValue(long v) => From(v);
    public static implicit operator MetadataValue(float v) => From(v);
    public static implicit operator MetadataValue(double v) => From(v);
    public static implicit operator MetadataValue(bool v) => From(v);
    public static implicit operator MetadataValue(string[] v) => From(v);
    public static implicit operator MetadataValue(float[] v) => From(v);
    public static implicit operator MetadataValue(int[] v) => From(v);

    public bool IsInteger => IsIntegerType(Type);

    /// <summary>Number of elements of an array value.</summary>
    public int Count => Type == MetadataType.Array ? ((Array)Value).Length : throw Mismatch("an array");

    /// <summary>Any integer scalar as a long (UInt64 values above long.MaxValue are refused).</summary>
    public long ToInt64() => Type switch
    {
        MetadataType.UInt64 when (ulong)Value > long.MaxValue => throw new InvalidCastException($"UInt64 value {Value} does not fit a long"),
        MetadataType.UInt8 or MetadataType.Int8 or MetadataType.UInt16 or MetadataType.Int16 or MetadataType.UInt32
            or MetadataType.Int32 or MetadataType.UInt64 or MetadataType.Int64 => Convert.ToInt64(Value, System.Globalization.CultureInfo.InvariantCulture),
        _ => throw Mismatch("an integer"),
    };

    /// <summary>Any numeric scalar as a double.</summary>
    public double ToDouble() => Type switch
    {
        MetadataType.Float32 => (float)Value,
        MetadataType.Float64 => (double)Value,
        _ when IsInteger => Convert.ToDouble(Value, System.Globalization.CultureInfo.InvariantCulture),
        _ => throw Mismatch("a number"),
    };

    public bool ToBool() => Type == MetadataType.Bool ? (bool)Value : throw Mismatch("a bool");

    public string AsString() => Type == MetadataType.String ? (string)Value : throw Mismatch("a string");

    public string[] ToStringArray() => Type == MetadataType.Array && ElementType == MetadataType.String
        ? (string[])((string[])Value).Clone()
        : throw Mismatch("an array of strings");

    public float[] ToFloatArray() => Type == MetadataType.Array && ElementType is MetadataType.Float32 or MetadataType.Float64
        ? ElementType == MetadataType.Float32 ? (float[])((float[])Value).Clone() : ((double[])Value).Select(d => (float)d).ToArray()
        : throw Mismatch("an array of floats");

    /// <summary>An integer array as int[] (values outside int's range are refused).</summary>
    public int[] ToInt32Array()
    {
        if (Type != MetadataType.Array || !IsIntegerType(ElementType)) throw Mismatch("an array of integers");
        var source = (Array)Value;
        var result = new int[source.Length];
        for (int i = 0; i < result.Length; i++)
        {
            var v = source.GetValue(i)!;
            if (v is ulong u && u > int.MaxValue) throw new InvalidCastException($"element {i} ({u}) does not fit an int");
            long l = v is ulong uu ? (long)uu : Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture);
            if (l < int.MinValue || l > int.MaxValue) throw new InvalidCastException($"element {i} ({l}) does not fit an int");
            result[i] = (int)l;
        }
        return result;
    }

    public override string ToString() => Type == MetadataType.Array
        ? $"{ElementType}[{((Array)Value).Length}]"
        : Convert.ToString(Value, System.Globalization.CultureInfo.InvariantCulture) ?? "";

    public string Describe() => Type == MetadataType.Array ? $"array of {ElementType}" : Type.ToString();

    internal static bool IsIntegerType(MetadataType t) => t is MetadataType.UInt8 or MetadataType.Int8 or MetadataType.UInt16
        or MetadataType.Int16 or MetadataType.UInt32 or MetadataType.Int32 or MetadataType.UInt64 or MetadataType.Int64;

    private InvalidCastException Mismatch(string expected) => new($"value is {Describe()}, not {expected}");
}

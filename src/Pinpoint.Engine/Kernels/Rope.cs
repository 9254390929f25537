namespace Pinpoint.Engine.Kernels;

/// <summary>Rotary position embedding over [batch, seq, heads, headDim] rows, using a precomputed <see cref="RopeTable"/>.</summary>
public static class Rope
{
    /// <summary>
    /// Rotates the first <see cref="RopeTable.RotaryDim"/> dimensions of every head of <paramref name="x"/> into
    /// <paramref name="y"/> and copies the rest (partial rotary). <paramref name="x"/> and <paramref name="y"/> may be
    /// the same memory. Token (b, t) sits at position <paramref name="positionOffset"/> + (t, or
    /// <paramref name="positions"/>[t] when it has seq entries, or <paramref name="positions"/>[b·seq + t] when it has
    /// batch·seq). <paramref name="inverse"/> rotates by the negated angle, which is also the backward pass.
    /// </summary>
    public static void Apply(
        ReadOnlySpan<float> x, Span<float> y, int batch, int seq, int heads, int headDim, RopeTable table,
        ReadOnlySpan<int> positions = default, int positionOffset = 0, bool inverse = false, KernelPath? path = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        int size = checked(batch * seq * heads * headDim);
        if (batch < 0 || seq < 0 || heads < 0 || x.Length != size || y.Length != size)
            throw new ArgumentException($"Rope: x ({x.Length}) and y ({y.Length}) must both hold [{batch}, {seq}, {heads}, {headDim}] = {size} elements");
        if (table.RotaryDim > headDim)
            throw new ArgumentException($"Rope: rotary dimension {table.RotaryDim} exceeds head dimension {headDim}");
        if (!positions.IsEmpty && positions.Length != seq && positions.Length != batch * seq)
            throw new ArgumentException($"Rope: {positions.Length} positions fit neither seq {seq} nor batch·seq {batch * seq}");
        var p = Simd.Resolve(path, nameof(Rope));
        var shape = new RopeShape(batch, seq, heads, headDim, positionOffset, inverse ? -1f : 1f);
        switch (p)
        {
            case KernelPath.Avx512: Run<V512>(x, y, shape, table, positions); break;
            case KernelPath.Avx2: Run<V256>(x, y, shape, table, positions); break;
            case KernelPath.Vector128: Run<V128>(x, y, shape, table, positions); break;
            default: Run<V1>(x, y, shape, table, positions); break;
        }
    }

    private readonly record struct RopeShape(int Batch, int Seq, int Heads, int HeadDim, int Offset, float Sign);

    private static void Run<T>(ReadOnlySpan<float> x, Span<float> y, in RopeShape s, RopeTable table, ReadOnlySpan<int> positions)
        where T : struct, ISimd<T>
    {
        int rot = table.RotaryDim;
        for (int b = 0; b < s.Batch; b++)
        for (int t = 0; t < s.Seq; t++)
        {
            int pos = s.Offset + (positions.IsEmpty ? t : positions.Length == s.Seq ? positions[t] : positions[b * s.Seq + t]);
            if ((uint)pos >= (uint)table.MaxPositions)
                throw new ArgumentOutOfRangeException(nameof(positions), $"Rope: position {pos} of token ({b}, {t}) is outside the table's [0, {table.MaxPositions})");
            var cos = table.Cos(pos);
            var sin = table.Sin(pos);
            for (int h = 0; h < s.Heads; h++)
            {
                int o = ((b * s.Seq + t) * s.Heads + h) * s.HeadDim;
                var xs = x.Slice(o, s.HeadDim);
                var ys = y.Slice(o, s.HeadDim);
                if (table.Layout == RopeLayout.Half) RotateHalf<T>(xs, ys, cos, sin, s.Sign);
                else RotateInterleaved<T>(xs, ys, cos, sin, s.Sign);
                xs[rot..].CopyTo(ys[rot..]);
            }
        }
    }

    // Each pair's two inputs are read before either output is written, so x and y may alias.
    private static void RotateHalf<T>(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, float sign)
        where T : struct, ISimd<T>
    {
        int half = cos.Length / 2, w = Simd.Step<T>(), j = 0;
        var vsign = T.Create(sign);
        for (; j <= half - w; j += w)
        {
            var lo = T.Load(x, j);
            var hi = T.Load(x, j + half);
            T.Store(T.Fma(hi, T.Load(sin, j) * vsign, lo * T.Load(cos, j)), y, j);
            T.Store(T.Fma(lo, T.Load(sin, j + half) * vsign, hi * T.Load(cos, j + half)), y, j + half);
        }
        for (; j < half; j++)
        {
            float lo = x[j], hi = x[j + half];
            y[j] = lo * cos[j] + hi * sin[j] * sign;
            y[j + half] = hi * cos[j + half] + lo * sin[j + half] * sign;
        }
    }

    private static void RotateInterleaved<T>(ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, float sign)
        where T : struct, ISimd<T>
    {
        int rot = cos.Length, w = Simd.Step<T>(), j = 0;
        var vsign = T.Create(sign);
        for (; j <= rot - w; j += w)
        {
            var v = T.Load(x, j);
            T.Store(T.Fma(T.SwapPairs(v), T.Load(sin, j) * vsign, v * T.Load(cos, j)), y, j);
        }
        for (; j < rot; j += 2)
        {
            float a = x[j], b = x[j + 1];
            y[j] = a * cos[j] + b * sin[j] * sign;
            y[j + 1] = b * cos[j + 1] + a * sin[j + 1] * sign;
        }
    }
}

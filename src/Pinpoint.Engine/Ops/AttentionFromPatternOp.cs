using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Ops;

public static partial class TensorOps
{
    /// <summary>
    /// Attention output from a given pattern: z[b, t, h, :] = Σ_s pattern[b, h, t, s] · v[b, s, h / (Hq/Hkv), :].
    /// pattern is [batch, queryHeads, queries, keys] and v is [batch, keys, kvHeads, headDim] (or both without the
    /// batch axis); z is [batch, queries, queryHeads, headDim]. Used when a hook replaces the pattern (hook_pattern):
    /// given the pattern <see cref="Attention"/> returns, z equals that op's z. The pattern is used as given (no
    /// causal or padding mask is applied). Gradients flow to both pattern and v; query heads sharing a KV head
    /// accumulate into its gradient.
    /// </summary>
    public static Tensor AttentionFromPattern(this Compute cx, Tensor pattern, Tensor v)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(v);
        const string op = "AttentionFromPattern";
        if (pattern.Rank is not (3 or 4) || v.Rank != pattern.Rank)
            throw new ArgumentException($"{op}: expected pattern [batch, queryHeads, queries, keys] and v [batch, keys, kvHeads, headDim] (batch optional, same on both), got {pattern.Describe()} and {v.Describe()}");
        bool batched = pattern.Rank == 4;
        int batch = batched ? pattern.Dim(0) : 1;
        int queryHeads = pattern.Dim(-3), queries = pattern.Dim(-2), keys = pattern.Dim(-1);
        int kvHeads = v.Dim(-2), headDim = v.Dim(-1);
        if (batched && v.Dim(0) != batch)
            throw new ArgumentException($"{op}: batch of pattern {pattern.Describe()} differs from v {v.Describe()}");
        if (v.Dim(-3) != keys)
            throw new ArgumentException($"{op}: pattern {pattern.Describe()} has {keys} keys but v {v.Describe()} has {v.Dim(-3)}");
        if (kvHeads == 0 ? queryHeads != 0 : queryHeads % kvHeads != 0)
            throw new ArgumentException($"{op}: {queryHeads} query heads of pattern {pattern.Describe()} are not a multiple of the {kvHeads} KV heads of v {v.Describe()}");

        int[] zShape = batched ? [batch, queries, queryHeads, headDim] : [queries, queryHeads, headDim];
        // Nothing to compute when z is empty, or (with no keys) an empty sum: the inputs are never read.
        if (Tensor.Product(zShape) == 0 || keys == 0) return cx.Output(zShape, zeroed: Tensor.Product(zShape) > 0, pattern, v);
        pattern = cx.Contiguous(pattern);
        v = cx.Contiguous(v);
        var sizes = new PatternAttentionSizes(batch, queryHeads, queries, keys, kvHeads, headDim);
        var z = cx.Output(zShape, zeroed: false, pattern, v);
        PatternAttentionForward(sizes, pattern.Span, v.Span, z.Span);

        if (z.RequiresGrad)
        {
            cx.Tape!.Record(() =>
            {
                PatternAttentionBackward(sizes, pattern.Span, v.Span, cx.GradOf(z),
                    cx.NeedsGrad(pattern) ? cx.GradOf(pattern) : default,
                    cx.NeedsGrad(v) ? cx.GradOf(v) : default);
            });
        }
        return z;
    }

    /// <summary>Sizes of <see cref="AttentionFromPattern"/>: pattern [B, Hq, T, S], v [B, S, Hkv, D], z [B, T, Hq, D].</summary>
    internal readonly record struct PatternAttentionSizes(int Batch, int QueryHeads, int Queries, int Keys, int KvHeads, int HeadDim)
    {
        public int GroupSize => QueryHeads / KvHeads;
        public int PatternIndex(int b, int h) => (b * QueryHeads + h) * Queries * Keys;
        public int ValueIndex(int b, int g) => b * Keys * KvHeads * HeadDim + g * HeadDim;
        public int OutputIndex(int b, int h) => b * Queries * QueryHeads * HeadDim + h * HeadDim;
        public int PatternLength => Batch * QueryHeads * Queries * Keys;
        public int ValueLength => Batch * Keys * KvHeads * HeadDim;
        public int OutputLength => Batch * Queries * QueryHeads * HeadDim;
    }

    /// <summary>z[b, :, h, :] = pattern[b, h] · v[b, :, g, :], one GEMM per (b, h) addressing strided head slices in place.</summary>
    internal static void PatternAttentionForward(in PatternAttentionSizes s, ReadOnlySpan<float> pattern, ReadOnlySpan<float> v, Span<float> z)
    {
        PatternAttentionCheckLengths(s, pattern, v, z);
        int vld = s.KvHeads * s.HeadDim, zld = s.QueryHeads * s.HeadDim;
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.QueryHeads; h++)
        {
            Gemm.Multiply(s.Queries, s.HeadDim, s.Keys,
                pattern[s.PatternIndex(b, h)..], s.Keys, false,
                v[s.ValueIndex(b, h / s.GroupSize)..], vld, false,
                z[s.OutputIndex(b, h)..], zld);
        }
    }

    /// <summary>
    /// Adds dpattern[b, h] += dz[b, :, h, :] · v[b, :, g, :]ᵀ and dv[b, :, g, :] += pattern[b, h]ᵀ · dz[b, :, h, :];
    /// an empty gradient span is skipped. The query heads of one KV head are visited in turn, so their
    /// contributions to the shared dv slice add up.
    /// </summary>
    internal static void PatternAttentionBackward(
        in PatternAttentionSizes s, ReadOnlySpan<float> pattern, ReadOnlySpan<float> v, ReadOnlySpan<float> dz,
        Span<float> dpattern, Span<float> dv)
    {
        PatternAttentionCheckLengths(s, pattern, v, dz);
        if (!dpattern.IsEmpty && dpattern.Length != s.PatternLength)
            throw new ArgumentException($"AttentionFromPattern: pattern gradient has {dpattern.Length} elements, expected {s.PatternLength}");
        if (!dv.IsEmpty && dv.Length != s.ValueLength)
            throw new ArgumentException($"AttentionFromPattern: v gradient has {dv.Length} elements, expected {s.ValueLength}");
        int vld = s.KvHeads * s.HeadDim, zld = s.QueryHeads * s.HeadDim;
        for (int b = 0; b < s.Batch; b++)
        for (int h = 0; h < s.QueryHeads; h++)
        {
            int g = h / s.GroupSize;
            var dzh = dz[s.OutputIndex(b, h)..];
            if (!dpattern.IsEmpty)
                Gemm.Multiply(s.Queries, s.Keys, s.HeadDim, dzh, zld, false, v[s.ValueIndex(b, g)..], vld, true,
                    dpattern[s.PatternIndex(b, h)..], s.Keys, beta: 1f);
            if (!dv.IsEmpty)
                Gemm.Multiply(s.Keys, s.HeadDim, s.Queries, pattern[s.PatternIndex(b, h)..], s.Keys, true, dzh, zld, false,
                    dv[s.ValueIndex(b, g)..], vld, beta: 1f);
        }
    }

    private static void PatternAttentionCheckLengths(in PatternAttentionSizes s, ReadOnlySpan<float> pattern, ReadOnlySpan<float> v, ReadOnlySpan<float> z)
    {
        if (s.Batch < 0 || s.QueryHeads < 0 || s.Queries < 0 || s.Keys < 0 || s.KvHeads <= 0 || s.HeadDim < 0 || s.QueryHeads % s.KvHeads != 0)
            throw new ArgumentException($"AttentionFromPattern: invalid sizes {s}");
        if (pattern.Length != s.PatternLength) throw new ArgumentException($"AttentionFromPattern: pattern has {pattern.Length} elements, expected {s.PatternLength}");
        if (v.Length != s.ValueLength) throw new ArgumentException($"AttentionFromPattern: v has {v.Length} elements, expected {s.ValueLength}");
        if (z.Length != s.OutputLength) throw new ArgumentException($"AttentionFromPattern: z has {z.Length} elements, expected {s.OutputLength}");
    }
}

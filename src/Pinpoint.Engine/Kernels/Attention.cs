namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Sizes of one causal attention call: q is [Batch, Queries, QueryHeads, HeadDim], k and v are
/// [Batch, Keys, KvHeads, HeadDim]; query head h reads KV head h / (QueryHeads / KvHeads). Query t sits at absolute
/// position QueryOffset + t and sees keys [0, QueryOffset + t].
/// </summary>
public readonly record struct AttentionShape(int Batch, int Queries, int Keys, int QueryHeads, int KvHeads, int HeadDim, int QueryOffset, float Scale)
{
    public int GroupSize => QueryHeads / KvHeads;
    public int QueryLength => Batch * Queries * QueryHeads * HeadDim;
    public int KeyLength => Batch * Keys * KvHeads * HeadDim;
    /// <summary>Elements of the scores or pattern, [Batch, QueryHeads, Queries, Keys].</summary>
    public int PatternLength => Batch * QueryHeads * Queries * Keys;

    internal int QueryIndex(int b, int t, int h) => ((b * Queries + t) * QueryHeads + h) * HeadDim;
    internal int KeyIndex(int b, int s, int g) => ((b * Keys + s) * KvHeads + g) * HeadDim;

    public void Validate()
    {
        if (Batch <= 0 || Queries <= 0 || Keys <= 0 || QueryHeads <= 0 || KvHeads <= 0 || HeadDim <= 0)
            throw new ArgumentException($"Attention: every size must be positive, got {this}");
        if (QueryHeads % KvHeads != 0)
            throw new ArgumentException($"Attention: {QueryHeads} query heads are not a multiple of {KvHeads} KV heads");
        if (QueryOffset < 0) throw new ArgumentException($"Attention: negative query offset {QueryOffset}");
        if (!float.IsFinite(Scale)) throw new ArgumentException($"Attention: scale {Scale} is not finite");
        // Every flat index below is an int.
        _ = checked(Batch * QueryHeads * Queries * Keys + Batch * Math.Max(Queries * QueryHeads, Keys * KvHeads) * HeadDim);
    }
}

/// <summary>
/// Causal grouped-query attention, z = softmax(scale·q·kᵀ + mask)·v, and its backward pass. Query rows are processed
/// in blocks: each block's scores are one GEMM over only the keys its last row can see, and the probabilities are
/// recomputed in the backward pass instead of being stored, so memory stays at a few blocks of scratch.
/// </summary>
public static class Attention
{
    private const int BlockRows = 64;

    /// <summary>Scratch floats <see cref="Forward"/> and <see cref="Backward"/> need; reuse one buffer across calls.</summary>
    public static int ScratchLength(in AttentionShape shape) => checked(shape.Keys * (1 + 2 * Math.Min(BlockRows, shape.Queries)));

    /// <summary>
    /// Writes z [B, T, Hq, D]. <paramref name="keyMask"/> is empty or [B, S] with true for real keys; masked keys get
    /// probability 0, and a row with no visible key yields z = 0. <paramref name="scores"/> (scaled logits, −∞ where
    /// masked) and <paramref name="pattern"/> (probabilities) are [B, Hq, T, S] and are written only when non-empty.
    /// </summary>
    public static void Forward(
        in AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<bool> keyMask,
        Span<float> z, Span<float> scores, Span<float> pattern, Span<float> scratch, KernelPath? path = null)
    {
        var p = Check(shape, q, k, v, keyMask, scratch, path);
        if (z.Length != shape.QueryLength) throw new ArgumentException($"Attention: z has {z.Length} elements, expected {shape.QueryLength}");
        if (!scores.IsEmpty && scores.Length != shape.PatternLength) throw new ArgumentException($"Attention: scores have {scores.Length} elements, expected {shape.PatternLength}");
        if (!pattern.IsEmpty && pattern.Length != shape.PatternLength) throw new ArgumentException($"Attention: pattern has {pattern.Length} elements, expected {shape.PatternLength}");
        var work = new ForwardWork { Shape = shape, Q = q, K = k, V = v, KeyMask = keyMask, Z = z, Scores = scores, Pattern = pattern, Path = p };
        RunItems(shape.Batch * shape.QueryHeads, ref work, scratch);
    }

    /// <summary>
    /// Adds the gradients of q, k and v for output gradient <paramref name="dz"/> into <paramref name="dq"/>,
    /// <paramref name="dk"/>, <paramref name="dv"/>; an empty span skips that gradient. K/V gradients sum over the
    /// query heads that share each KV head.
    /// </summary>
    public static void Backward(
        in AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<bool> keyMask,
        ReadOnlySpan<float> dz, Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch, KernelPath? path = null)
    {
        var p = Check(shape, q, k, v, keyMask, scratch, path);
        if (dz.Length != shape.QueryLength) throw new ArgumentException($"Attention: dz has {dz.Length} elements, expected {shape.QueryLength}");
        if (!dq.IsEmpty && dq.Length != shape.QueryLength) throw new ArgumentException($"Attention: dq has {dq.Length} elements, expected {shape.QueryLength}");
        if (!dk.IsEmpty && dk.Length != shape.KeyLength) throw new ArgumentException($"Attention: dk has {dk.Length} elements, expected {shape.KeyLength}");
        if (!dv.IsEmpty && dv.Length != shape.KeyLength) throw new ArgumentException($"Attention: dv has {dv.Length} elements, expected {shape.KeyLength}");
        // One work item per (batch, KV head), so the heads sharing a K/V gradient accumulate into it in turn.
        var work = new BackwardWork { Shape = shape, Q = q, K = k, V = v, KeyMask = keyMask, DZ = dz, DQ = dq, DK = dk, DV = dv, Path = p };
        RunItems(shape.Batch * shape.KvHeads, ref work, scratch);
    }

    private static KernelPath Check(in AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<bool> keyMask, Span<float> scratch, KernelPath? path)
    {
        shape.Validate();
        if (q.Length != shape.QueryLength) throw new ArgumentException($"Attention: q has {q.Length} elements, expected {shape.QueryLength}");
        if (k.Length != shape.KeyLength || v.Length != shape.KeyLength)
            throw new ArgumentException($"Attention: k ({k.Length}) and v ({v.Length}) must have {shape.KeyLength} elements");
        if (!keyMask.IsEmpty && keyMask.Length != shape.Batch * shape.Keys)
            throw new ArgumentException($"Attention: key mask has {keyMask.Length} entries, expected batch·keys = {shape.Batch * shape.Keys}");
        if (scratch.Length < ScratchLength(shape))
            throw new ArgumentException($"Attention: scratch of {scratch.Length} floats is smaller than ScratchLength = {ScratchLength(shape)}");
        return Simd.Resolve(path, nameof(Attention));
    }

    private interface IHeadWork
    {
        void Run(int item, Span<float> scratch);
    }

    // The one scheduling point. Items are independent; to parallelize, hand them to the non-allocating worker pool
    // and give each worker its own ScratchLength slice.
    private static void RunItems<TWork>(int count, scoped ref TWork work, Span<float> scratch) where TWork : IHeadWork, allows ref struct
    {
        for (int item = 0; item < count; item++) work.Run(item, scratch);
    }

    private ref struct ForwardWork : IHeadWork
    {
        public AttentionShape Shape;
        public ReadOnlySpan<float> Q, K, V;
        public ReadOnlySpan<bool> KeyMask;
        public Span<float> Z, Scores, Pattern;
        public KernelPath Path;

        public readonly void Run(int item, Span<float> scratch)
        {
            var s = Shape;
            int b = item / s.QueryHeads, h = item % s.QueryHeads, g = h / s.GroupSize;
            int keys = s.Keys, ld = s.HeadDim * s.QueryHeads;
            var bias = scratch[..keys];
            FillBias(KeyMask, b, bias);
            for (int t0 = 0; t0 < s.Queries; t0 += BlockRows)
            {
                int rows = Math.Min(BlockRows, s.Queries - t0);
                int at = ((b * s.QueryHeads + h) * s.Queries + t0) * keys;
                var probs = Pattern.IsEmpty ? scratch.Slice(keys, rows * keys) : Pattern.Slice(at, rows * keys);
                var logits = Scores.IsEmpty ? default : Scores.Slice(at, rows * keys);
                int visible = Probabilities(s, Q, K, bias, b, h, t0, rows, probs, logits, Path);
                if (visible < keys)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        if (!Pattern.IsEmpty) probs.Slice(r * keys + visible, keys - visible).Clear();
                        if (!logits.IsEmpty) logits.Slice(r * keys + visible, keys - visible).Fill(float.NegativeInfinity);
                    }
                }
                Gemm.Multiply(rows, s.HeadDim, visible, probs, keys, false, V[s.KeyIndex(b, 0, g)..], s.HeadDim * s.KvHeads, false, Z[s.QueryIndex(b, t0, h)..], ld);
            }
        }
    }

    private ref struct BackwardWork : IHeadWork
    {
        public AttentionShape Shape;
        public ReadOnlySpan<float> Q, K, V, DZ;
        public ReadOnlySpan<bool> KeyMask;
        public Span<float> DQ, DK, DV;
        public KernelPath Path;

        public readonly void Run(int item, Span<float> scratch)
        {
            var s = Shape;
            int b = item / s.KvHeads, g = item % s.KvHeads;
            int keys = s.Keys, qld = s.HeadDim * s.QueryHeads, kld = s.HeadDim * s.KvHeads, d = s.HeadDim;
            int block = Math.Min(BlockRows, s.Queries) * keys;
            var bias = scratch[..keys];
            var probs = scratch.Slice(keys, block);
            var dlogits = scratch.Slice(keys + block, block);
            FillBias(KeyMask, b, bias);
            var kg = K[s.KeyIndex(b, 0, g)..];
            var vg = V[s.KeyIndex(b, 0, g)..];
            var dkg = DK.IsEmpty ? default : DK[s.KeyIndex(b, 0, g)..];
            var dvg = DV.IsEmpty ? default : DV[s.KeyIndex(b, 0, g)..];
            for (int h = g * s.GroupSize; h < (g + 1) * s.GroupSize; h++)
            for (int t0 = 0; t0 < s.Queries; t0 += BlockRows)
            {
                int rows = Math.Min(BlockRows, s.Queries - t0);
                var qb = Q[s.QueryIndex(b, t0, h)..];
                var dzb = DZ[s.QueryIndex(b, t0, h)..];
                int visible = Probabilities(s, Q, K, bias, b, h, t0, rows, probs, default, Path);
                if (!dvg.IsEmpty) Gemm.Multiply(visible, d, rows, probs, keys, true, dzb, qld, false, dvg, kld, beta: 1f);
                if (DQ.IsEmpty && dkg.IsEmpty) continue;
                Gemm.Multiply(rows, visible, d, dzb, qld, false, vg, kld, true, dlogits, keys);
                for (int r = 0; r < rows; r++)
                    SoftmaxBackwardRow(probs.Slice(r * keys, visible), dlogits.Slice(r * keys, visible), s.Scale, Path);
                if (!DQ.IsEmpty) Gemm.Multiply(rows, d, visible, dlogits, keys, false, kg, kld, false, DQ[s.QueryIndex(b, t0, h)..], qld, beta: 1f);
                if (!dkg.IsEmpty) Gemm.Multiply(visible, d, rows, dlogits, keys, true, qb, qld, false, dkg, kld, beta: 1f);
            }
        }
    }

    /// <summary>Additive key bias of batch row b: 0 for real keys, −∞ for padding.</summary>
    private static void FillBias(ReadOnlySpan<bool> keyMask, int b, Span<float> bias)
    {
        if (keyMask.IsEmpty)
        {
            bias.Clear();
            return;
        }
        var row = keyMask.Slice(b * bias.Length, bias.Length);
        for (int s = 0; s < bias.Length; s++) bias[s] = row[s] ? 0f : float.NegativeInfinity;
    }

    /// <summary>
    /// Probabilities of query rows [t0, t0 + rows) of head (b, h) over the keys the block can see, written with row
    /// stride Keys into <paramref name="probs"/> (and the scaled, masked logits into <paramref name="logits"/> when it
    /// is non-empty). Returns how many leading keys the block sees; columns past that are left untouched.
    /// </summary>
    private static int Probabilities(
        in AttentionShape s, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> bias,
        int b, int h, int t0, int rows, Span<float> probs, Span<float> logits, KernelPath path)
    {
        int keys = s.Keys;
        int visible = Math.Min(keys, s.QueryOffset + t0 + rows);
        Gemm.Multiply(rows, visible, s.HeadDim, q[s.QueryIndex(b, t0, h)..], s.HeadDim * s.QueryHeads, false,
            k[s.KeyIndex(b, 0, h / s.GroupSize)..], s.HeadDim * s.KvHeads, true, probs, keys);
        for (int r = 0; r < rows; r++)
        {
            int causal = Math.Min(visible, s.QueryOffset + t0 + r + 1);
            var row = probs.Slice(r * keys, visible);
            var logitRow = logits.IsEmpty ? default : logits.Slice(r * keys, visible);
            switch (path)
            {
                case KernelPath.Avx512: SoftmaxRow<V512>(row, bias, causal, s.Scale, logitRow); break;
                case KernelPath.Avx2: SoftmaxRow<V256>(row, bias, causal, s.Scale, logitRow); break;
                case KernelPath.Vector128: SoftmaxRow<V128>(row, bias, causal, s.Scale, logitRow); break;
                default: SoftmaxRow<V1>(row, bias, causal, s.Scale, logitRow); break;
            }
        }
        return visible;
    }

    /// <summary>
    /// row[0, causal) holds raw q·k dots; turns the whole row into probabilities of scale·dot + bias, with the row
    /// max subtracted before exponentiating. Entries past <paramref name="causal"/> become 0 (logits −∞); a row with
    /// every key masked becomes all zeros rather than 0/0.
    /// </summary>
    private static void SoftmaxRow<T>(Span<float> row, ReadOnlySpan<float> bias, int causal, float scale, Span<float> logits)
        where T : struct, ISimd<T>
    {
        int w = Simd.Step<T>(), i = 0;
        var vscale = T.Create(scale);
        var vmax = T.Create(float.NegativeInfinity);
        for (; i <= causal - w; i += w)
        {
            var x = T.Fma(T.Load(row, i), vscale, T.Load(bias, i));
            T.Store(x, row, i);
            vmax = T.Max(vmax, x);
        }
        float max = T.MaxAcross(vmax);
        for (; i < causal; i++)
        {
            row[i] = MathF.FusedMultiplyAdd(row[i], scale, bias[i]);
            max = MathF.Max(max, row[i]);
        }
        if (!logits.IsEmpty)
        {
            row[..causal].CopyTo(logits);
            logits[causal..].Fill(float.NegativeInfinity);
        }
        row[causal..].Clear();
        if (float.IsNegativeInfinity(max))
        {
            row[..causal].Clear();
            return;
        }

        var vshift = T.Create(max);
        var vsum = T.Create(0f);
        for (i = 0; i <= causal - w; i += w)
        {
            var e = T.RuntimeExp(T.Load(row, i) - vshift);
            T.Store(e, row, i);
            vsum += e;
        }
        float sum = T.Sum(vsum);
        for (; i < causal; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }

        // sum ≥ 1: the max element contributes exp(0).
        var vinv = T.Create(1f / sum);
        for (i = 0; i <= causal - w; i += w) T.Store(T.Load(row, i) * vinv, row, i);
        for (; i < causal; i++) row[i] /= sum;
    }

    private static void SoftmaxBackwardRow(ReadOnlySpan<float> p, Span<float> dp, float scale, KernelPath path)
    {
        switch (path)
        {
            case KernelPath.Avx512: SoftmaxBackwardRow<V512>(p, dp, scale); break;
            case KernelPath.Avx2: SoftmaxBackwardRow<V256>(p, dp, scale); break;
            case KernelPath.Vector128: SoftmaxBackwardRow<V128>(p, dp, scale); break;
            default: SoftmaxBackwardRow<V1>(p, dp, scale); break;
        }
    }

    /// <summary>dp ← scale · p ∘ (dp − Σ dp∘p): the softmax backward with the logit scale folded in.</summary>
    private static void SoftmaxBackwardRow<T>(ReadOnlySpan<float> p, Span<float> dp, float scale)
        where T : struct, ISimd<T>
    {
        int w = Simd.Step<T>(), n = p.Length, i = 0;
        var vdot = T.Create(0f);
        for (; i <= n - w; i += w) vdot = T.Fma(T.Load(p, i), T.Load(dp, i), vdot);
        float dot = T.Sum(vdot);
        for (; i < n; i++) dot += p[i] * dp[i];

        var vdotb = T.Create(dot);
        var vscale = T.Create(scale);
        for (i = 0; i <= n - w; i += w)
            T.Store(T.Load(p, i) * vscale * (T.Load(dp, i) - vdotb), dp, i);
        for (; i < n; i++) dp[i] = p[i] * scale * (dp[i] - dot);
    }
}

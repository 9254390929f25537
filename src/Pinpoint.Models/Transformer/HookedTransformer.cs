using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Transformer;

/// <summary>
/// The canonical transformer every architecture adapter maps onto, with TransformerLens hook points.
/// Pre-norm blocks: resid_pre → ln1 → attention → (resid_mid) → ln2 → MLP → resid_post; GPT-NeoX's parallel
/// residual adds attention and MLP outputs that both read resid_pre.
/// </summary>
public sealed class HookedTransformer : IDisposable
{
    private readonly IDisposable? _owner;
    private readonly RopeTable? _rope;
    private readonly Lazy<HashSet<string>> _hookNames;
    private readonly Lazy<Dictionary<string, Tensor>> _weightsByName;

    public TransformerConfig Config { get; }
    public TransformerWeights Weights { get; }

    /// <summary>
    /// Changes applied in every forward pass before the call's own hooks (like TransformerLens's permanent hooks):
    /// steering vectors and directional ablation, so that every command and analysis sees the intervened model.
    /// </summary>
    public IList<IHookIntervention> Interventions { get; } = new List<IHookIntervention>();

    /// <param name="owner">Keeps memory-mapped weights alive; disposed with the model.</param>
    public HookedTransformer(TransformerConfig config, TransformerWeights weights, IDisposable? owner = null)
    {
        config.Validate(config.Architecture);
        Config = config;
        Weights = weights;
        _owner = owner;
        _hookNames = new(() => Transformer.HookNames.All(config).ToHashSet(StringComparer.Ordinal));
        _weightsByName = new(() => weights.Parameters().ToDictionary(p => p.Name, p => p.Tensor, StringComparer.Ordinal));
        CheckWeights();
        if (config.Positions == PositionKind.Rotary)
            _rope = new RopeTable(config.ContextLength, config.RotaryDim, config.RopeTheta, config.RopeLayout);
    }

    /// <summary>
    /// Logits [batch, length, vocab] for a batch of token ids — or [batch, 1, vocab] for the last position only
    /// when <paramref name="lastPositionOnly"/>, which saves the unembedding of every other position (most of a
    /// small model's forward and backward when only the next token matters).
    /// </summary>
    public Tensor Forward(Compute cx, TokenBatch batch, HookSet? hooks = null, KvCache? kvCache = null, bool lastPositionOnly = false)
    {
        var c = Config;
        (var x, hooks) = Blocks(cx, batch, hooks, kvCache);
        int bsz = batch.BatchSize, len = batch.Length, rows = bsz * len;
        var final = Norm(cx, x, Weights.FinalNorm, HookNames.FinalScale, HookNames.FinalNormalized, hooks);
        if (lastPositionOnly && len > 1)
        {
            var lastRows = Enumerable.Range(1, bsz).Select(b => b * len - 1).ToArray();
            final = cx.Reshape(cx.SelectRows(cx.Reshape(final, rows, c.DModel), lastRows), bsz, 1, c.DModel);
        }
        return Project(cx, final, Weights.Unembed);
    }

    /// <summary>
    /// The residual stream after the last block, [batch, length, d_model]: the forward without the final norm and
    /// unembedding, for callers that read activations only (the unembedding matrix is most of a small model's weights).
    /// </summary>
    public Tensor Residual(Compute cx, TokenBatch batch, HookSet? hooks = null, KvCache? kvCache = null)
        => Blocks(cx, batch, hooks, kvCache).Residual;

    /// <summary>The blocks of a forward: the residual stream after the last one, and the hooks the pass runs (the call's, with the model's interventions).</summary>
    private (Tensor Residual, HookSet? Hooks) Blocks(Compute cx, TokenBatch batch, HookSet? hooks, KvCache? kvCache)
    {
        var c = Config;
        int past = kvCache?.Length ?? 0;
        if (past + batch.Length > c.ContextLength)
            throw new ArgumentException($"{past + batch.Length} tokens exceed the model's context of {c.ContextLength}");
        foreach (var id in batch.Ids)
            if ((uint)id >= (uint)c.VocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary of {c.VocabSize}");
        if (hooks is not null) foreach (var name in hooks.Names) CheckHookName(name);
        int bsz = batch.BatchSize, len = batch.Length;
        var positions = past == 0 ? batch.Positions : batch.Positions.Select(p => p + past).ToArray();
        if (Interventions.Count > 0)
        {
            var own = HookSet.Before(hooks);
            foreach (var intervention in Interventions) intervention.Register(own, Config);
            hooks = own;
        }
        hooks?.BeginForward(cx, positions);

        Tensor Hook(string name, Tensor t) => hooks is null ? t : hooks.Apply(name, t);

        var x = cx.Embedding(Weights.Embedding, batch.Ids);
        if (c.EmbeddingScale != 1f) x = cx.Scale(x, c.EmbeddingScale);
        x = Hook(HookNames.Embed, cx.Reshape(x, bsz, len, c.DModel));
        if (c.Positions == PositionKind.Learned)
        {
            var pos = Hook(HookNames.PosEmbed, cx.Reshape(cx.Embedding(Weights.PositionEmbedding!, positions), bsz, len, c.DModel));
            x = cx.Add(x, pos);
        }

        for (int l = 0; l < c.NLayers; l++)
        {
            var block = Weights.Blocks[l];
            var residPre = Hook(HookNames.ResidPre(l), x);
            // Supplied queries, keys and values need no attention input unless a hook reads it.
            var attnIn = SuppliesAttention(hooks, l) && !hooks!.Wants(HookNames.Ln1Scale(l)) && !hooks.Wants(HookNames.Ln1Normalized(l)) ? null
                : Norm(cx, residPre, block.Ln1, HookNames.Ln1Scale(l), HookNames.Ln1Normalized(l), hooks);
            var attnOut = Hook(HookNames.AttnOut(l), Attention(cx, l, attnIn, batch, positions, hooks, kvCache));
            if (c.AttentionOnly)
            {
                x = Hook(HookNames.ResidPost(l), cx.Add(residPre, attnOut));
                continue;
            }
            Tensor mlpIn, residMid;
            if (c.ParallelResidual)
            {
                residMid = residPre;
                mlpIn = Norm(cx, residPre, block.Ln2!, HookNames.Ln2Scale(l), HookNames.Ln2Normalized(l), hooks);
            }
            else
            {
                residMid = Hook(HookNames.ResidMid(l), cx.Add(residPre, attnOut));
                mlpIn = Norm(cx, residMid, block.Ln2!, HookNames.Ln2Scale(l), HookNames.Ln2Normalized(l), hooks);
            }
            var mlpOut = Hook(HookNames.MlpOut(l), Mlp(cx, l, mlpIn, hooks));
            var sum = c.ParallelResidual ? cx.Add(cx.Add(residPre, attnOut), mlpOut) : cx.Add(residMid, mlpOut);
            x = Hook(HookNames.ResidPost(l), sum);
        }
        kvCache?.Advance(len);
        return (x, hooks);
    }

    /// <summary>
    /// Logits plus the activations whose hook names pass <paramref name="filter"/> (all of them when null), kept as
    /// they are (F32) or as half-size F16/BF16 copies (<paramref name="cacheDType"/>).
    /// </summary>
    public (Tensor Logits, ActivationCache Cache) RunWithCache(TokenBatch batch, Func<string, bool>? filter = null, Compute? cx = null, bool lastPositionOnly = false,
        DType cacheDType = DType.F32)
    {
        var hooks = new HookSet(filter ?? (_ => true), cacheDType);
        var logits = Forward(cx ?? Compute.Eager, batch, hooks, lastPositionOnly: lastPositionOnly);
        return (logits, hooks.Cache);
    }

    /// <summary>Logits with functions run (reading, replacing or adding) at hook points.</summary>
    public Tensor RunWithHooks(TokenBatch batch, IEnumerable<(string HookName, HookFunction Function)> functions, Compute? cx = null, bool lastPositionOnly = false)
    {
        var hooks = new HookSet();
        foreach (var (name, f) in functions) hooks.Add(name, f);
        return Forward(cx ?? Compute.Eager, batch, hooks, lastPositionOnly: lastPositionOnly);
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> by <paramref name="maxNewTokens"/> tokens with a KV cache (each step feeds only
    /// the new token); stops early at <paramref name="stopToken"/>. Returns the generated ids only.
    /// </summary>
    public List<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, SamplingOptions sampling, int? stopToken = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("generation needs at least one prompt token");
        int capacity = Math.Min(Config.ContextLength, prompt.Count + maxNewTokens);
        if (prompt.Count > Config.ContextLength) throw new ArgumentException($"prompt of {prompt.Count} tokens exceeds the model's context of {Config.ContextLength}");
        var sampler = new Sampler(sampling);
        var cache = new KvCache(Config, 1, capacity);
        var generated = new List<int>();
        var step = prompt.ToArray();
        while (generated.Count < maxNewTokens && cache.Length + step.Length <= capacity)
        {
            var logits = Forward(Compute.Eager, TokenBatch.Single(step), kvCache: cache);
            int next = sampler.Next(logits.Span[^Config.VocabSize..]);
            generated.Add(next);
            if (next == stopToken) break;
            step = [next];
        }
        return generated;
    }

    public IEnumerable<string> HookNamesInOrder() => Transformer.HookNames.All(Config);

    /// <summary>Throws <see cref="UnknownNameException"/> (listing the closest names) unless the model has this hook point.</summary>
    public void CheckHookName(string hookName) => UnknownNameException.ThrowIfUnknown(hookName, _hookNames.Value, "hook");

    /// <summary>Whether the model has this hook point.</summary>
    public bool HasHook(string hookName) => _hookNames.Value.Contains(hookName);

    /// <summary>A weight by its name in <see cref="TransformerWeights.Parameters"/> ("blocks.0.attn.o.w").</summary>
    public Tensor Weight(string name)
    {
        UnknownNameException.ThrowIfUnknown(name, _weightsByName.Value.Keys, "weight");
        return _weightsByName.Value[name];
    }

    public IReadOnlyCollection<string> WeightNames => _weightsByName.Value.Keys;

    /// <summary>A trace of one forward pass over <paramref name="ids"/> (one sequence): edit, save, and take gradients at named hooks.</summary>
    public Trace Trace(params int[] ids) => new(this, TokenBatch.Single(ids));

    /// <summary>A trace of one forward pass over a batch.</summary>
    public Trace Trace(TokenBatch batch) => new(this, batch);

    public long ParameterCount => Weights.Parameters().Sum(p => (long)p.Tensor.Size);

    public void Dispose() => _owner?.Dispose();

    /// <summary>The model's norm (LayerNorm or RMSNorm, as configured) with <paramref name="weights"/>, without hooks: for callers that recompute a block's input.</summary>
    public Tensor ApplyNorm(Compute cx, Tensor x, NormWeights weights) => Config.Norm == NormKind.LayerNorm
        ? cx.LayerNorm(x, weights.Weight, weights.Bias, Config.NormEps)
        : cx.RmsNorm(x, weights.Weight, Config.NormEps, Config.NormAddsOne);

    private Tensor Norm(Compute cx, Tensor x, NormWeights weights, string scaleHook, string normalizedHook, HookSet? hooks)
    {
        if (hooks is not null && hooks.Supplies(normalizedHook) && !hooks.Wants(scaleHook)) return hooks.ApplySupplied(normalizedHook);
        if (hooks is null || !hooks.Wants(scaleHook))
        {
            var plain = ApplyNorm(cx, x, weights);
            return hooks is null ? plain : hooks.Apply(normalizedHook, plain);
        }
        var y = Config.Norm == NormKind.LayerNorm
            ? cx.LayerNorm(x, weights.Weight, weights.Bias, Config.NormEps, out var rstd)
            : cx.RmsNorm(x, weights.Weight, Config.NormEps, Config.NormAddsOne, out rstd);
        // TransformerLens's hook_scale is the divisor √(var + eps), the reciprocal of the kernel's rstd.
        var scale = rstd.Clone();
        var s = scale.Span;
        for (int i = 0; i < s.Length; i++) s[i] = 1f / s[i];
        var replaced = hooks.Apply(scaleHook, scale);
        if (!ReferenceEquals(replaced, scale) && !replaced.Contiguous().Span.SequenceEqual(scale.Span))
            y = Rescale(cx, y, weights.Bias, scale, replaced);
        return hooks.Apply(normalizedHook, y);
    }

    /// <summary>
    /// The norm's output recomputed with a hook's replacement divisor: y' = (y − b)·(old / new) + b per row. The
    /// replaced scale is treated as a constant, so gradients still flow to the input through y.
    /// </summary>
    private static Tensor Rescale(Compute cx, Tensor y, Tensor? bias, Tensor oldScale, Tensor newScale)
    {
        int d = y.Dim(-1);
        var ratio = Tensor.Zeros(y.Shape.ToArray());
        var r = ratio.Span;
        var oldS = oldScale.Span;
        var newS = newScale.Contiguous().Span;
        for (int row = 0; row < oldS.Length; row++) r.Slice(row * d, d).Fill(oldS[row] / newS[row]);
        var centred = bias is null ? y : cx.Sub(y, bias);
        var scaled = cx.Mul(centred, ratio);
        return bias is null ? scaled : cx.Add(scaled, bias);
    }

    private static Tensor Project(Compute cx, Tensor x, Linear linear)
    {
        var y = cx.MatMul(x, linear.Weight, transposeB: linear.OutIn);
        return linear.Bias is null ? y : cx.Add(y, linear.Bias);
    }

    private static bool SuppliesAttention(HookSet? hooks, int layer) =>
        hooks is not null && hooks.Supplies(HookNames.Q(layer)) && hooks.Supplies(HookNames.K(layer)) && hooks.Supplies(HookNames.V(layer));

    /// <param name="x">The normed attention input; null when hooks supply the query, key and value.</param>
    private Tensor Attention(Compute cx, int layer, Tensor? x, TokenBatch batch, int[] positions, HookSet? hooks, KvCache? kvCache)
    {
        var c = Config;
        var w = Weights.Blocks[layer].Attention;
        int bsz = batch.BatchSize, len = batch.Length;
        Tensor Hook(string name, Tensor t) => hooks is null ? t : hooks.Apply(name, t);
        Tensor q, k, v;
        if (SuppliesAttention(hooks, layer))
        {
            q = hooks!.ApplySupplied(HookNames.Q(layer));
            k = hooks.ApplySupplied(HookNames.K(layer));
            v = hooks.ApplySupplied(HookNames.V(layer));
        }
        else
        {
            if (w.Qkv is not null)
            {
                var qkv = Project(cx, x!, w.Qkv);
                int qWidth = c.NHeads * c.DHead, kvWidth = c.NKvHeads * c.DHead;
                q = cx.Slice(qkv, -1, 0, qWidth);
                k = cx.Slice(qkv, -1, qWidth, kvWidth);
                v = cx.Slice(qkv, -1, qWidth + kvWidth, kvWidth);
            }
            else
            {
                q = Project(cx, x!, w.Q!);
                k = Project(cx, x!, w.K!);
                v = Project(cx, x!, w.V!);
            }
            q = Hook(HookNames.Q(layer), cx.Reshape(q, bsz, len, c.NHeads, c.DHead));
            k = Hook(HookNames.K(layer), cx.Reshape(k, bsz, len, c.NKvHeads, c.DHead));
            v = Hook(HookNames.V(layer), cx.Reshape(v, bsz, len, c.NKvHeads, c.DHead));
        }
        if (_rope is not null)
        {
            q = Hook(HookNames.RotQ(layer), cx.Rope(q, _rope, 0, positions));
            k = Hook(HookNames.RotK(layer), cx.Rope(k, _rope, 0, positions));
        }
        int past = kvCache?.Length ?? 0;
        if (kvCache is not null) (k, v) = kvCache.Frozen ? kvCache.Extend(cx, layer, k, v) : kvCache.Append(layer, k, v);

        var z = Hook(HookNames.Z(layer), ScaledDotProduct(cx, layer, q, k, v, batch, past, hooks));
        var wo = w.O;
        if (hooks?.Wants(HookNames.Result(layer)) ?? false)
        {
            var result = Hook(HookNames.Result(layer), HeadResults(cx, z, wo));
            var summed = cx.SumAxis(result, 2);
            return wo.Bias is null ? summed : cx.Add(summed, wo.Bias);
        }
        return Project(cx, cx.Reshape(z, bsz, len, c.NHeads * c.DHead), wo);
    }

    /// <summary>softmax(q·kᵀ/√d + mask)·v, through the fused kernel unless a hook needs the scores or pattern.</summary>
    private Tensor ScaledDotProduct(Compute cx, int layer, Tensor q, Tensor k, Tensor v, TokenBatch batch, int past, HookSet? hooks)
    {
        var mask = batch.Mask is null ? null : KeyMask(batch, past, k.Dim(1));
        string scoresHook = HookNames.AttnScores(layer), patternHook = HookNames.Pattern(layer);
        bool wantScores = hooks?.Wants(scoresHook) ?? false, wantPattern = hooks?.Wants(patternHook) ?? false;
        var result = cx.Attention(q, k, v, new AttentionOptions { KeyMask = mask, QueryOffset = past, ReturnScores = wantScores, ReturnPattern = wantPattern });
        if (hooks is null || (!wantScores && !wantPattern)) return result.Z;
        if (!hooks.Intercepts(scoresHook) && !hooks.Intercepts(patternHook))
        {
            if (wantScores) hooks.Apply(scoresHook, result.Scores!);
            if (wantPattern) hooks.Apply(patternHook, result.Pattern!);
            return result.Z;
        }
        // A hook may change scores or pattern: continue from the (possibly replaced) tensors explicitly.
        var scores = wantScores ? hooks.Apply(scoresHook, result.Scores!) : result.Scores!;
        var pattern = ReferenceEquals(scores, result.Scores) && result.Pattern is not null ? result.Pattern : cx.Softmax(scores);
        pattern = hooks.Apply(patternHook, pattern);
        return cx.AttentionFromPattern(pattern, v);
    }

    /// <summary>Key padding mask [B, S] for the cached keys plus this step's tokens (cached ones were real).</summary>
    private static bool[] KeyMask(TokenBatch batch, int past, int keys)
    {
        var mask = new bool[batch.BatchSize * keys];
        for (int b = 0; b < batch.BatchSize; b++)
            for (int s = 0; s < keys; s++)
                mask[b * keys + s] = s < past || batch.Mask![b * batch.Length + s - past];
        return mask;
    }

    /// <summary>Each head's write to the residual stream, [B, T, H, d_model] (TransformerLens hook_result).</summary>
    private Tensor HeadResults(Compute cx, Tensor z, Linear wo)
    {
        var c = Config;
        int bsz = z.Dim(0), len = z.Dim(1);
        var perHead = new Tensor[c.NHeads];
        for (int h = 0; h < c.NHeads; h++)
        {
            var zh = cx.Reshape(cx.Slice(z, 2, h, 1), bsz, len, c.DHead);
            var wh = wo.OutIn ? cx.Slice(wo.Weight, 1, h * c.DHead, c.DHead) : cx.Slice(wo.Weight, 0, h * c.DHead, c.DHead);
            perHead[h] = cx.Reshape(cx.MatMul(zh, wh, transposeB: wo.OutIn), bsz, len, 1, c.DModel);
        }
        return cx.Concat(perHead, 2);
    }

    private Tensor Mlp(Compute cx, int layer, Tensor x, HookSet? hooks)
    {
        var w = Weights.Blocks[layer].Mlp!;
        Tensor Hook(string name, Tensor t) => hooks is null ? t : hooks.Apply(name, t);
        var pre = Hook(HookNames.MlpPre(layer), Project(cx, x, w.In));
        Tensor post;
        if (Config.GatedMlp)
        {
            var up = Hook(HookNames.MlpPreLinear(layer), Project(cx, x, w.Up!));
            post = cx.Gated(pre, up, Config.Activation);
        }
        else
        {
            post = cx.Activate(pre, Config.Activation);
        }
        post = Hook(HookNames.MlpPost(layer), post);
        return Project(cx, post, w.Out);
    }

    private void CheckWeights()
    {
        var c = Config;
        var w = Weights;
        string arch = c.Architecture;
        void Expect(Tensor t, string name, params int[] shape)
        {
            if (!t.Shape.SequenceEqual(shape))
                throw new ModelConfigException($"{arch}: {name} has shape {t.ShapeString}, the config implies {Tensor.Format(shape)}");
        }
        Expect(w.Embedding, "embedding", c.VocabSize, c.DModel);
        if (c.Positions == PositionKind.Learned)
        {
            if (w.PositionEmbedding is null) throw new ModelConfigException($"{arch}: learned positions need a position embedding");
            if (w.PositionEmbedding.Rank != 2 || w.PositionEmbedding.Dim(1) != c.DModel || w.PositionEmbedding.Dim(0) < c.ContextLength)
                throw new ModelConfigException($"{arch}: position embedding {w.PositionEmbedding.ShapeString} does not cover context {c.ContextLength} × d_model {c.DModel}");
        }
        if (w.Blocks.Count != c.NLayers) throw new ModelConfigException($"{arch}: {w.Blocks.Count} blocks for {c.NLayers} layers");
        int qw = c.NHeads * c.DHead, kvw = c.NKvHeads * c.DHead;
        for (int l = 0; l < c.NLayers; l++)
        {
            var b = w.Blocks[l];
            Expect(b.Ln1.Weight, $"blocks.{l}.ln1", c.DModel);
            var a = b.Attention;
            if (a.Qkv is not null) a.Qkv.CheckShape($"blocks.{l}.attn.qkv", c.DModel, qw + 2 * kvw);
            else
            {
                (a.Q ?? throw new ModelConfigException($"{arch}: block {l} has no query projection")).CheckShape($"blocks.{l}.attn.q", c.DModel, qw);
                (a.K ?? throw new ModelConfigException($"{arch}: block {l} has no key projection")).CheckShape($"blocks.{l}.attn.k", c.DModel, kvw);
                (a.V ?? throw new ModelConfigException($"{arch}: block {l} has no value projection")).CheckShape($"blocks.{l}.attn.v", c.DModel, kvw);
            }
            a.O.CheckShape($"blocks.{l}.attn.o", qw, c.DModel);
            if (c.AttentionOnly) continue;
            if (b.Ln2 is null) throw new ModelConfigException($"{arch}: block {l} has no second norm");
            Expect(b.Ln2.Weight, $"blocks.{l}.ln2", c.DModel);
            var mlp = b.Mlp ?? throw new ModelConfigException($"{arch}: block {l} has no MLP");
            mlp.In.CheckShape($"blocks.{l}.mlp.in", c.DModel, c.DMlp);
            if (c.GatedMlp)
                (mlp.Up ?? throw new ModelConfigException($"{arch}: gated MLP in block {l} has no up projection")).CheckShape($"blocks.{l}.mlp.up", c.DModel, c.DMlp);
            mlp.Out.CheckShape($"blocks.{l}.mlp.out", c.DMlp, c.DModel);
        }
        Expect(w.FinalNorm.Weight, "ln_final", c.DModel);
        w.Unembed.CheckShape("unembed", c.DModel, c.VocabSize);
    }
}

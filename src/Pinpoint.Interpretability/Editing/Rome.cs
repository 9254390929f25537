using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

/// <summary>One edit: after <see cref="Prompt"/> with <c>{}</c> replaced by <see cref="Subject"/>, the model should say <see cref="TargetNew"/>.</summary>
/// <param name="Source">Where the edit came from ("FILE:LINE"), for error messages.</param>
public sealed record EditRequest(string Subject, string Prompt, string TargetNew, string? Source = null)
{
    public string Filled => Prompt.Replace("{}", Subject, StringComparison.Ordinal);
}

/// <summary>ROME's settings (Meng et al., 2022; the GPT-2 XL values where they carry over).</summary>
public sealed record RomeOptions
{
    /// <summary>Prefixes the model generates itself, each followed by ". " and the prompt (plus the bare prompt).</summary>
    public int ContextPrefixes { get; init; } = 5;
    public int PrefixTokens { get; init; } = 8;
    public int Steps { get; init; } = 25;
    public double LearningRate { get; init; } = 0.5;
    /// <summary>Weight of KL(original ‖ edited) on "{subject} is a".</summary>
    public double KlFactor { get; init; } = 0.0625;
    /// <summary>Weight of ‖δ‖ / ‖v‖² (v: the MLP output at the subject's last token).</summary>
    public double WeightDecay { get; init; } = 0.5;
    /// <summary>‖δ‖ is clamped to this multiple of ‖v‖.</summary>
    public double ClampNorm { get; init; } = 4;
    public int Seed { get; init; }
}

/// <summary>What one edit did: the key and value change, and how the optimisation of v* ended.</summary>
public sealed record RomeEdit(EditRequest Request, int Layer, double KeyNorm, double DeltaNorm, double ValueNorm, int Steps, double TargetProbability);

/// <summary>
/// ROME on one MLP output matrix of a model whose weights it may change (an F32 copy): the key k* is the MLP's hidden
/// activation at the subject's last token averaged over the prompt and self-generated prefixes; v* = v + δ, with δ
/// added to the MLP output there and optimised (Adam) for the new target's NLL (length-normalised over its tokens) plus
/// KL on "{subject} is a" plus a norm penalty, clamped; then the closed-form rank-one update with C = E[kkᵀ] (or I).
/// </summary>
public sealed class RomeEditor
{
    private readonly LoadedModel _tokens;
    private readonly HookedTransformer _model;
    private readonly RomeOptions _options;
    private readonly double[,]? _choleskyFactor;

    public int Layer { get; }
    public IReadOnlyList<string> Templates { get; }

    /// <param name="tokens">Tokenizer and BOS rule (its model is only used to generate the prefixes).</param>
    /// <param name="model">The model to edit in place; its MLP output weights must be writable F32 (see <see cref="TransformerWeights.Copy"/>).</param>
    /// <param name="covariance">C = E[kkᵀ] of the layer's keys; null for C = I.</param>
    public RomeEditor(LoadedModel tokens, HookedTransformer model, int layer, double[,]? covariance, RomeOptions options)
    {
        if (layer < 0 || layer >= model.Config.NLayers || model.Config.AttentionOnly)
            throw new ArgumentException($"layer {layer} is not an MLP layer of this model (layers 0..{model.Config.NLayers - 1})");
        _tokens = tokens;
        _model = model;
        _options = options;
        Layer = layer;
        _choleskyFactor = covariance is null ? null : Regularised(covariance);
        Templates = GenerateTemplates(tokens, model, options);
    }

    /// <summary>Edits the model in place and reports the edit.</summary>
    public RomeEdit Edit(EditRequest request)
    {
        var rows = Templates.Select(t => PromptRow(t.Replace("{}", request.Filled, StringComparison.Ordinal), request)).ToList();
        var keys = rows.Select(r => Key(r.Ids, r.SubjectLast)).ToList();
        var key = Enumerable.Range(0, keys[0].Length).Select(i => keys.Average(k => k[i])).ToArray();
        var (delta, valueNorm, steps, probability) = OptimiseDelta(request, rows);
        var mlpOut = _model.Weights.Blocks[Layer].Mlp!.Out;
        var u = _choleskyFactor is null ? key : RankOneUpdate.SolveWithFactor(_choleskyFactor, key);
        RankOneUpdate.Apply(mlpOut, key, u, delta);
        return new RomeEdit(request, Layer, Norm(key), Norm(delta), valueNorm, steps, probability);
    }

    private sealed record Row(int[] Ids, int SubjectLast, int[] Target);

    private Row PromptRow(string text, EditRequest request)
    {
        var ids = Continuations.EncodePrompt(_tokens, text, request.Source);
        if (request.TargetNew.Trim().Length == 0) throw new ArgumentException($"{request.Source}: the new target is empty");
        int end;
        try
        {
            end = SubjectTokens.Find(_tokens.Tokenizer, ids, request.Subject).End;
        }
        catch (ArgumentException e) when (request.Source is not null)
        {
            throw new ArgumentException($"{request.Source}: {e.Message}", e);
        }
        return new Row(ids, end - 1, Continuations.Encode(_tokens, text, ids, request.TargetNew, request.Source));
    }

    private double[] Key(int[] ids, int position)
    {
        string hook = HookNames.MlpPost(Layer);
        var (_, cache) = _model.RunWithCache(TokenBatch.Single(ids), name => name == hook, lastPositionOnly: true);
        var all = cache[hook].ToArray();
        int width = _model.Config.DMlp;
        return Enumerable.Range(0, width).Select(i => (double)all[position * width + i]).ToArray();
    }

    /// <summary>δ at the MLP output, optimised on the template rows (NLL of the target) and the "{subject} is a" row (KL).</summary>
    private (double[] Delta, double ValueNorm, int Steps, double Probability) OptimiseDelta(EditRequest request, List<Row> rows)
    {
        var c = _model.Config;
        int d = c.DModel, vocab = c.VocabSize;
        var klIds = Continuations.EncodePrompt(_tokens, request.Subject + " is a", request.Source);
        int klLast = SubjectTokens.Find(_tokens.Tokenizer, klIds, request.Subject).End - 1;
        var sequences = rows.Select(r => (IReadOnlyList<int>)[.. r.Ids, .. r.Target[..^1]]).Append(klIds).ToList();
        int pad = _tokens.Tokenizer.Eos ?? _tokens.Tokenizer.Bos ?? 0;
        var batch = TokenBatch.LeftPadded(sequences, pad);
        int length = batch.Length, count = sequences.Count;
        int Offset(int row) => length - sequences[row].Count;

        var mask = Tensor.Zeros(count, length, d);
        var m = mask.Span;
        for (int row = 0; row < count; row++)
        {
            int position = Offset(row) + (row < rows.Count ? rows[row].SubjectLast : klLast);
            m.Slice((row * length + position) * d, d).Fill(1f);
        }
        var delta = Tensor.Zeros(d);
        delta.RequiresGrad = true;
        var first = new double[d];
        var moment = new double[d];
        var velocity = new double[d];
        double[]? originalKl = null;
        double valueNorm = 0, probability = 0;
        int step = 0;
        for (; step < _options.Steps; step++)
        {
            var tape = new Tape();
            var cx = new Compute(tape);
            Tensor? value = null;
            var hooks = new HookSet();
            hooks.Add(HookNames.MlpOut(Layer), (x, _) =>
            {
                value ??= x;
                return hooks.Compute.Add(x, hooks.Compute.Mul(mask, delta));
            });
            var logits = _model.Forward(cx, batch, hooks);
            var l = logits.ToArray();
            if (step == 0)
            {
                var v = value!.ToArray();
                valueNorm = Enumerable.Range(0, rows.Count).Average(row => Norm(v.AsSpan((row * length + Offset(row) + rows[row].SubjectLast) * d, d)));
                originalKl = LanguageModelling.LogSoftmax(l.AsSpan(((count - 1) * length + length - 1) * vocab, vocab));
            }
            var grad = new float[l.Length];
            double nll = 0;
            double weight = 1.0 / rows.Count;
            probability = 0;
            for (int row = 0; row < rows.Count; row++)
            {
                var target = rows[row].Target;
                double rowLogProb = 0;
                for (int j = 0; j < target.Length; j++)
                {
                    int at = (row * length + Offset(row) + rows[row].Ids.Length - 1 + j) * vocab;
                    var logP = LanguageModelling.LogSoftmax(l.AsSpan(at, vocab));
                    rowLogProb += logP[target[j]];
                    for (int t = 0; t < vocab; t++) grad[at + t] += (float)(weight / target.Length * Math.Exp(logP[t]));
                    grad[at + target[j]] -= (float)(weight / target.Length);
                }
                nll -= weight * rowLogProb / target.Length;
                probability += weight * Math.Exp(rowLogProb / target.Length);
            }
            int klAt = ((count - 1) * length + length - 1) * vocab;
            var klNow = LanguageModelling.LogSoftmax(l.AsSpan(klAt, vocab));
            for (int t = 0; t < vocab; t++) grad[klAt + t] += (float)(_options.KlFactor * (Math.Exp(klNow[t]) - Math.Exp(originalKl![t])));
            if (nll < 5e-2) break;
            tape.Backward(logits, Tensor.FromArray(grad, logits.Shape.ToArray()));
            var g = tape.GradOf(delta).ToArray();
            var dv = delta.Span;
            double deltaNorm = Norm(dv);
            for (int i = 0; i < d; i++)
            {
                double gi = g[i] + (deltaNorm > 0 ? _options.WeightDecay * dv[i] / (deltaNorm * valueNorm * valueNorm) : 0);
                moment[i] = 0.9 * moment[i] + 0.1 * gi;
                velocity[i] = 0.999 * velocity[i] + 0.001 * gi * gi;
                double mHat = moment[i] / (1 - Math.Pow(0.9, step + 1)), vHat = velocity[i] / (1 - Math.Pow(0.999, step + 1));
                dv[i] -= (float)(_options.LearningRate * mHat / (Math.Sqrt(vHat) + 1e-8));
            }
            double norm = Norm(dv), limit = _options.ClampNorm * valueNorm;
            if (norm > limit)
                for (int i = 0; i < d; i++) dv[i] = (float)(dv[i] * limit / norm);
        }
        var result = delta.Span;
        for (int i = 0; i < d; i++) first[i] = result[i];
        return (first, valueNorm, step, probability);
    }

    private static IReadOnlyList<string> GenerateTemplates(LoadedModel tokens, HookedTransformer model, RomeOptions options)
    {
        var templates = new List<string> { "{}" };
        int start = tokens.Tokenizer.Bos ?? tokens.Tokenizer.Eos ?? 0;
        for (int i = 0; i < options.ContextPrefixes; i++)
        {
            var ids = model.Generate([start], options.PrefixTokens, new SamplingOptions(Temperature: 1f, TopK: 5, Seed: options.Seed + i), stopToken: null);
            var text = tokens.Tokenizer.Decode(ids.ToArray(), skipSpecial: true).Replace("{", "(").Replace("}", ")").Trim();
            templates.Add(text + ". {}");
        }
        return templates;
    }

    /// <summary>Cholesky factor of C + εI (ε a millionth of the mean diagonal), so a key direction the corpus never used stays solvable.</summary>
    private static double[,] Regularised(double[,] covariance)
    {
        int n = covariance.GetLength(0);
        var c = (double[,])covariance.Clone();
        double mean = 0;
        for (int i = 0; i < n; i++) mean += c[i, i] / n;
        for (int i = 0; i < n; i++) c[i, i] += 1e-6 * mean + 1e-12;
        return RankOneUpdate.Cholesky(c);
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (var x in v) s += (double)x * x;
        return Math.Sqrt(s);
    }

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

/// <summary>
/// What ROME and MEMIT share: the context templates the model generates itself, an edit's prompt under each of them,
/// activations at the subject's last token (one batched forward), and the optimisation of δ added at a hook there so
/// the new target wins (Meng et al., 2022, <c>compute_v</c>).
/// </summary>
public sealed class EditPrompts
{
    private readonly LoadedModel _tokens;
    private readonly HookedTransformer _model;

    public RomeOptions Options { get; }
    /// <summary>"{}" (the bare prompt, always first) and the generated prefixes, each followed by ". {}".</summary>
    public IReadOnlyList<string> Templates { get; }

    /// <param name="tokens">Tokenizer and BOS rule.</param>
    /// <param name="model">The model whose activations are read (the one being edited).</param>
    public EditPrompts(LoadedModel tokens, HookedTransformer model, RomeOptions options)
    {
        _tokens = tokens;
        _model = model;
        Options = options;
        Templates = GenerateTemplates(tokens, model, options);
    }

    /// <summary>The prompt under one template, the index of the subject's last token, and the new target's tokens.</summary>
    public sealed record Row(int[] Ids, int SubjectLast, int[] Target);

    /// <summary>The request's prompt under every template; row 0 is the bare prompt.</summary>
    public IReadOnlyList<Row> Rows(EditRequest request)
    {
        if (request.TargetNew.Trim().Length == 0) throw new ArgumentException($"{request.Source}: the new target is empty");
        return Templates.Select(t =>
        {
            var text = t.Replace("{}", request.Filled, StringComparison.Ordinal);
            var ids = Continuations.EncodePrompt(_tokens, text, request.Source);
            return new Row(ids, SubjectLast(ids, request), Continuations.Encode(_tokens, text, ids, request.TargetNew, request.Source));
        }).ToList();
    }

    private int SubjectLast(int[] ids, EditRequest request)
    {
        try
        {
            return SubjectTokens.Find(_tokens.Tokenizer, ids, request.Subject).End - 1;
        }
        catch (ArgumentException e) when (request.Source is not null)
        {
            throw new ArgumentException($"{request.Source}: {e.Message}", e);
        }
    }

    /// <summary>For each hook, the activation at each row's subject's last token ([hook][row][width]), from one left-padded batch.</summary>
    public Dictionary<string, double[][]> AtSubject(IReadOnlyList<Row> rows, IReadOnlyList<string> hooks)
    {
        var sequences = rows.Select(r => (IReadOnlyList<int>)r.Ids).ToList();
        var batch = TokenBatch.LeftPadded(sequences, PadId);
        var (_, cache) = _model.RunWithCache(batch, name => hooks.Contains(name), lastPositionOnly: true);
        var result = new Dictionary<string, double[][]>(StringComparer.Ordinal);
        foreach (var hook in hooks)
        {
            var all = cache[hook].Contiguous().ToArray();
            int width = all.Length / (batch.BatchSize * batch.Length);
            result[hook] = rows.Select((r, i) =>
            {
                int at = (i * batch.Length + batch.Length - r.Ids.Length + r.SubjectLast) * width;
                return Enumerable.Range(0, width).Select(j => (double)all[at + j]).ToArray();
            }).ToArray();
        }
        return result;
    }

    /// <summary>
    /// The key ROME stores under: the rows' keys averaged with the weights their NLL has in <see cref="OptimiseDelta(EditRequest, IReadOnlyList{Row}, string)"/>
    /// (<see cref="RomeOptions.PromptWeight"/> on the bare prompt, the rest shared by the prefixed templates; ROME's plain mean
    /// when every row has an equal share), so u = C⁻¹k̄ points where v* was fitted.
    /// </summary>
    public double[] WeightedKey(IReadOnlyList<double[]> keys)
    {
        var key = new double[keys[0].Length];
        for (int row = 0; row < keys.Count; row++)
        {
            double weight = TemplateWeight(row, keys.Count);
            for (int i = 0; i < key.Length; i++) key[i] += weight * keys[row][i];
        }
        return key;
    }

    private int PadId => _tokens.Tokenizer.Eos ?? _tokens.Tokenizer.Bos ?? 0;

    /// <summary>The optimised δ and how the optimisation ended.</summary>
    /// <param name="ValueNorm">‖v‖ of the activation at the hook at the bare prompt's subject's last token (the clamp's and penalty's scale).</param>
    /// <param name="Probability">Mean length-normalised P(new target) over the templates at the last step.</param>
    /// <param name="PromptProbability">The same on the bare prompt alone (row 0): what the edit is built to reach there.</param>
    /// <param name="Clamped">Whether ‖δ‖ ended at its clamp.</param>
    public sealed record DeltaResult(double[] Delta, double ValueNorm, int Steps, double Probability, double PromptProbability, bool Clamped)
    {
        public double DeltaOverValue => Norm(Delta) / ValueNorm;
    }

    /// <summary>
    /// δ added to <paramref name="hook"/> at the subject's last token, optimised with Adam for the new target's NLL
    /// (length-normalised, averaged over the template rows) + KL(original ‖ edited) of the next-token distribution at
    /// the subject's last token of "{subject} is a" + a norm penalty, with ‖δ‖ clamped to a multiple of ‖v‖.
    /// </summary>
    public DeltaResult OptimiseDelta(EditRequest request, IReadOnlyList<Row> rows, string hook) => OptimiseDelta([request], [rows], hook)[0];

    /// <summary>
    /// One δ for several requests about the same subject (their rows from <see cref="Rows"/>), each request's NLL with an
    /// equal share. A subject-first prompt gives the subject the same key whatever follows, so a memory update can store
    /// only one value for it: one that serves all of the subject's new facts (MEMIT's batches). One result per request,
    /// sharing δ, each with its own <see cref="DeltaResult.PromptProbability"/>.
    /// </summary>
    public IReadOnlyList<DeltaResult> OptimiseDelta(IReadOnlyList<EditRequest> requests, IReadOnlyList<IReadOnlyList<Row>> rowsPerRequest, string hook)
    {
        var request = requests[0];
        if (requests.Any(r => r.Subject != request.Subject)) throw new ArgumentException("one δ serves requests about one subject");
        // Every request's rows, each with its NLL weight: the request's share times the template's.
        var rows = rowsPerRequest.SelectMany(r => r).ToList();
        var weights = rowsPerRequest.SelectMany(r => r.Select((_, row) => TemplateWeight(row, r.Count) / requests.Count)).ToArray();
        var bareRows = rowsPerRequest.Select((_, i) => rowsPerRequest.Take(i).Sum(r => r.Count)).ToArray();
        var promptProbabilities = new double[requests.Count];
        var c = _model.Config;
        int d = c.DModel, vocab = c.VocabSize;
        // Causal attention: the prediction at the subject's last token of "{subject} is a" sees only the tokens up to it.
        var klIds = Continuations.EncodePrompt(_tokens, request.Subject + " is a", request.Source);
        klIds = klIds[..(SubjectLast(klIds, request) + 1)];
        var sequences = rows.Select(r => (IReadOnlyList<int>)[.. r.Ids, .. r.Target[..^1]]).Append(klIds).ToList();
        var batch = TokenBatch.LeftPadded(sequences, PadId);
        int length = batch.Length, count = sequences.Count, kl = count - 1;
        int Offset(int row) => length - sequences[row].Count;
        // Single-token targets are all predicted at the last position: only that position is unembedded.
        bool lastOnly = rows.All(r => r.Target.Length == 1);
        int LogitsAt(int row, int position) => (lastOnly ? row : row * length + position) * vocab;

        var mask = Tensor.Zeros(count, length, d);
        var m = mask.Span;
        for (int row = 0; row < count; row++)
        {
            int position = Offset(row) + (row < kl ? rows[row].SubjectLast : klIds.Length - 1);
            m.Slice((row * length + position) * d, d).Fill(1f);
        }
        var delta = Tensor.Zeros(d);
        delta.RequiresGrad = true;
        var moment = new double[d];
        var velocity = new double[d];
        double[]? originalKl = null;
        double valueNorm = 0, probability = 0;
        bool clamped = false;
        int step = 0;
        for (; step < Options.Steps; step++)
        {
            var tape = new Tape();
            var cx = new Compute(tape);
            Tensor? value = null;
            var hooks = new HookSet();
            hooks.Add(hook, (x, _) =>
            {
                value ??= x;
                return hooks.Compute.Add(x, hooks.Compute.Mul(mask, delta));
            });
            var logits = _model.Forward(cx, batch, hooks, lastPositionOnly: lastOnly);
            var l = logits.ToArray();
            int klAt = LogitsAt(kl, length - 1);
            if (step == 0)
            {
                valueNorm = Norm(value!.ToArray().AsSpan((Offset(0) + rows[0].SubjectLast) * d, d));
                originalKl = LanguageModelling.LogSoftmax(l.AsSpan(klAt, vocab));
            }
            var grad = new float[l.Length];
            double nll = 0;
            probability = 0;
            for (int row = 0; row < rows.Count; row++)
            {
                var target = rows[row].Target;

                double weight = weights[row];
                double rowLogProb = 0;
                for (int j = 0; j < target.Length; j++)
                {
                    int at = LogitsAt(row, Offset(row) + rows[row].Ids.Length - 1 + j);
                    var logP = LanguageModelling.LogSoftmax(l.AsSpan(at, vocab));
                    rowLogProb += logP[target[j]];
                    for (int t = 0; t < vocab; t++) grad[at + t] += (float)(weight / target.Length * Math.Exp(logP[t]));
                    grad[at + target[j]] -= (float)(weight / target.Length);
                }
                nll -= weight * rowLogProb / target.Length;
                if (Array.IndexOf(bareRows, row) is var bare and >= 0) promptProbabilities[bare] = Math.Exp(rowLogProb / target.Length);
                probability += Math.Exp(rowLogProb / target.Length) / rows.Count;
            }
            if (nll < 5e-2) break;
            var klNow = LanguageModelling.LogSoftmax(l.AsSpan(klAt, vocab));
            for (int t = 0; t < vocab; t++) grad[klAt + t] += (float)(Options.KlFactor * (Math.Exp(klNow[t]) - Math.Exp(originalKl![t])));
            tape.Backward(logits, Tensor.FromArray(grad, logits.Shape.ToArray()));
            var g = tape.GradOf(delta).ToArray();
            var dv = delta.Span;
            double deltaNorm = Norm(dv);
            for (int i = 0; i < d; i++)
            {
                double gi = g[i] + (deltaNorm > 0 ? Options.WeightDecay * dv[i] / (deltaNorm * valueNorm * valueNorm) : 0);
                moment[i] = 0.9 * moment[i] + 0.1 * gi;
                velocity[i] = 0.999 * velocity[i] + 0.001 * gi * gi;
                double mHat = moment[i] / (1 - Math.Pow(0.9, step + 1)), vHat = velocity[i] / (1 - Math.Pow(0.999, step + 1));
                dv[i] -= (float)(Options.LearningRate * mHat / (Math.Sqrt(vHat) + 1e-8));
            }
            double norm = Norm(dv), limit = Options.ClampNorm * valueNorm;
            clamped = norm > limit;
            if (clamped)
                for (int i = 0; i < d; i++) dv[i] = (float)(dv[i] * limit / norm);
        }
        var result = delta.ToArray().Select(x => (double)x).ToArray();
        return promptProbabilities.Select(p => new DeltaResult(result, valueNorm, step, probability, p, clamped)).ToList();
    }

    /// <summary>The NLL weight of a template row: <see cref="RomeOptions.PromptWeight"/> for the bare prompt (row 0), the rest shared equally.</summary>
    public double TemplateWeight(int row, int count) =>
        count == 1 ? 1 : row == 0 ? Options.PromptWeight : (1 - Options.PromptWeight) / (count - 1);

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

    public static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (var x in v) s += (double)x * x;
        return Math.Sqrt(s);
    }

    public static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}

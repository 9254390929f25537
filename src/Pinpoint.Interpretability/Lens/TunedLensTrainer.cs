using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Kernels;
using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Lens;

public sealed record TunedLensOptions
{
    /// <summary>Optimizer steps; every step trains every stage on one batch of windows.</summary>
    public int Steps { get; init; } = 150;
    public int BatchSize { get; init; } = 4;
    /// <summary>Tokens per training and held-out window.</summary>
    public int Context { get; init; } = 128;
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Windows of the held-out (validation-split) documents the KL is reported on.</summary>
    public int HeldOutWindows { get; init; } = 16;
    /// <summary>Validation share of the trainer's document split (as pinpoint train).</summary>
    public float ValidationFraction { get; init; } = 0.02f;

    public void Validate()
    {
        if (Steps < 1 || BatchSize < 1 || Context < 2 || HeldOutWindows < 1 || !(LearningRate > 0) || ValidationFraction is <= 0 or >= 1)
            throw new ArgumentException($"tuned lens options out of range: steps {Steps}, batch {BatchSize}, context {Context}, held-out windows {HeldOutWindows}, lr {LearningRate}, validation fraction {ValidationFraction}");
    }
}

/// <summary>
/// Trains a <see cref="TunedLens"/>: each stage's translator minimises the mean KL(final ‖ lens) over tokens, the
/// final distribution being the model's own output at the same position, with AdamW (no weight decay) from the
/// identity. Stages are independent: each has its own optimizer state and sees the same residual batches.
/// </summary>
public sealed class TunedLensTrainer
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Eps = 1e-8f;

    private readonly HookedTransformer _model;
    private readonly float _learningRate;
    private readonly float[][] _moments, _variances;
    private readonly int[] _steps;

    public TunedLensTrainer(HookedTransformer model, TunedLens lens, float learningRate)
    {
        _model = model;
        Lens = lens;
        _learningRate = learningRate;
        var parameters = Parameters().ToList();
        _moments = parameters.Select(p => new float[p.Size]).ToArray();
        _variances = parameters.Select(p => new float[p.Size]).ToArray();
        _steps = new int[lens.Stages];
    }

    public TunedLens Lens { get; }

    /// <summary>One AdamW step of <paramref name="stage"/>'s translator on residual rows [rows, d_model] and the final log-probabilities [rows, vocab]; returns the mean KL before the step.</summary>
    public double Step(int stage, Tensor residuals, Tensor finalLogProbs)
    {
        int rows = residuals.Dim(0), vocab = finalLogProbs.Dim(-1);
        var weight = Lens.Weights[stage];
        var bias = Lens.Biases[stage];
        var tape = new Tape();
        var cx = new Compute(tape);
        weight.RequiresGrad = bias.RequiresGrad = true;
        try
        {
            var lensLogProbs = cx.LogSoftmax(LensReadout.Logits(_model, cx, Lens.Translate(cx, stage, residuals)));
            var reference = finalLogProbs.Span;
            var probabilities = Tensor.Zeros(rows, vocab);
            var p = probabilities.Span;
            for (int i = 0; i < p.Length; i++) p[i] = MathF.Exp(reference[i]);
            // KL = Σ p log p − Σ p log q; only the cross term depends on the translator.
            var cross = cx.Sum(cx.Mul(probabilities, lensLogProbs));
            double kl = LensReadout.RowKl(reference, lensLogProbs.Span, vocab).Average();
            tape.Backward(cross, Tensor.Full(-1f / rows, cross.Shape.ToArray()));
            _steps[stage]++;
            AdamW.Step(weight.Span, weight.Grad!.Span, _moments[2 * stage], _variances[2 * stage], _learningRate, Beta1, Beta2, Eps, 0f, _steps[stage]);
            AdamW.Step(bias.Span, bias.Grad!.Span, _moments[2 * stage + 1], _variances[2 * stage + 1], _learningRate, Beta1, Beta2, Eps, 0f, _steps[stage]);
            return kl;
        }
        finally
        {
            weight.RequiresGrad = bias.RequiresGrad = false;
            weight.Grad = bias.Grad = null;
            tape.Clear();
        }
    }

    /// <summary>
    /// Trains on windows of the corpus files' training documents (the trainer's hash split within each file, files taken in turn), cycling through them if the
    /// corpus runs short, and reports held-out KL of both lenses on windows of the validation documents.
    /// </summary>
    /// <param name="progress">(phase, done, total) after each step.</param>
    public static (TunedLens Lens, TunedLensInfo Info) Train(LoadedModel loaded, IReadOnlyList<string> corpus, TunedLensOptions options,
        Action<string, int, int>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var model = loaded.Model;
        var config = model.Config;
        bool IsHeldOut(long document) => TokenDataset.IsValidationDocument(document, options.ValidationFraction);
        var trainWindows = Interleaved(loaded, corpus, options.Context, d => !IsHeldOut(d)).Take(options.Steps * options.BatchSize).ToList();
        var heldOut = Interleaved(loaded, corpus, options.Context, IsHeldOut).Take(options.HeldOutWindows).ToList();
        if (trainWindows.Count == 0 || heldOut.Count == 0)
            throw new InvalidDataException($"{string.Join(",", corpus)}: no {(trainWindows.Count == 0 ? "training" : "held-out")} window of {options.Context} tokens (the corpus is too short)");

        var trainer = new TunedLensTrainer(model, TunedLens.Identity(config), options.LearningRate);
        int next = 0;
        for (int step = 1; step <= options.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(0, options.BatchSize).Select(_ => trainWindows[next++ % trainWindows.Count].Ids).ToList();
            var (finalLogProbs, residuals) = Forward(model, batch);
            for (int s = 0; s < trainer.Lens.Stages; s++) trainer.Step(s, residuals[s], finalLogProbs);
            progress?.Invoke("tuned lens", step, options.Steps);
        }
        var kl = HeldOutKl(model, trainer.Lens, heldOut.Select(w => w.Ids).ToList(), options.BatchSize);
        var info = new TunedLensInfo(TunedLens.Format, loaded.Path, config.DModel, config.NLayers, config.VocabSize,
            corpus.Select(Path.GetFileName).ToArray()!, options.Steps, (long)options.Steps * options.BatchSize * options.Context,
            (long)heldOut.Count * options.Context, kl);
        return (trainer.Lens, info);
    }

    /// <summary>Mean KL(final ‖ lens) per stage over every token of <paramref name="windows"/>, for the logit lens and <paramref name="lens"/>.</summary>
    public static LensStageKl[] HeldOutKl(HookedTransformer model, TunedLens lens, IReadOnlyList<int[]> windows, int batchSize)
    {
        var identity = TunedLens.Identity(model.Config);
        var logitSum = new double[lens.Stages];
        var tunedSum = new double[lens.Stages];
        long tokens = 0;
        foreach (var batch in windows.Chunk(batchSize))
        {
            var (finalLogProbs, residuals) = Forward(model, batch);
            for (int s = 0; s < lens.Stages; s++)
            {
                logitSum[s] += StageKl(model, identity, s, residuals[s], finalLogProbs).Sum();
                tunedSum[s] += StageKl(model, lens, s, residuals[s], finalLogProbs).Sum();
            }
            tokens += residuals[0].Dim(0);
        }
        return Enumerable.Range(0, lens.Stages)
            .Select(s => new LensStageKl(TunedLens.StageName(s), TunedLens.StageHook(s), logitSum[s] / tokens, tunedSum[s] / tokens)).ToArray();
    }

    /// <summary>KL(final ‖ lens) of every row at one stage.</summary>
    public static double[] StageKl(HookedTransformer model, TunedLens lens, int stage, Tensor residuals, Tensor finalLogProbs) =>
        LensReadout.RowKl(finalLogProbs.Span, StageLogProbs(model, lens, stage, residuals).Span, finalLogProbs.Dim(-1));

    /// <summary>Log-probabilities [rows, vocab] the lens reads from residual rows at one stage.</summary>
    public static Tensor StageLogProbs(HookedTransformer model, TunedLens lens, int stage, Tensor residuals)
    {
        var cx = Compute.Eager;
        return cx.LogSoftmax(LensReadout.Logits(model, cx, lens.Translate(cx, stage, residuals)));
    }

    /// <summary>One forward pass over equal-length sequences: the output's log-probabilities [rows, vocab] and each stage's residual rows [rows, d_model].</summary>
    public static (Tensor FinalLogProbs, Tensor[] Residuals) Forward(HookedTransformer model, IReadOnlyList<int[]> sequences)
    {
        int length = sequences[0].Length;
        if (sequences.Any(s => s.Length != length)) throw new ArgumentException("lens batches need sequences of one length");
        int stages = TunedLens.StageCount(model.Config);
        var hooks = Enumerable.Range(0, stages).Select(TunedLens.StageHook).ToHashSet(StringComparer.Ordinal);
        var batch = new TokenBatch(sequences.Count, length, sequences.SelectMany(s => s).ToArray());
        var (logits, cache) = model.RunWithCache(batch, hooks.Contains);
        var finalLogProbs = Compute.Eager.LogSoftmax(LensReadout.Rows(logits));
        return (finalLogProbs, Enumerable.Range(0, stages).Select(s => LensReadout.Rows(cache[TunedLens.StageHook(s)])).ToArray());
    }

    /// <summary>Full windows of every file in turn (one from each, round robin), so a short run sees every file; documents are split by their index within their file.</summary>
    private static IEnumerable<HarvestSequence> Interleaved(LoadedModel loaded, IReadOnlyList<string> corpus, int context, Func<long, bool> keep)
    {
        var streams = corpus.Select(file => HarvestSources.Corpus(loaded, [file], context, keep).Where(w => w.Ids.Length == context).GetEnumerator()).ToList();
        try
        {
            while (streams.Count > 0)
                for (int i = streams.Count - 1; i >= 0; i--)
                {
                    if (streams[i].MoveNext()) yield return streams[i].Current;
                    else
                    {
                        streams[i].Dispose();
                        streams.RemoveAt(i);
                    }
                }
        }
        finally
        {
            foreach (var s in streams) s.Dispose();
        }
    }

    private IEnumerable<Tensor> Parameters()
    {
        for (int s = 0; s < Lens.Stages; s++)
        {
            yield return Lens.Weights[s];
            yield return Lens.Biases[s];
        }
    }
}

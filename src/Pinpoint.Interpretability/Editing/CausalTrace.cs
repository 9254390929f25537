using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

public sealed record CausalTraceOptions
{
    /// <summary>Noise samples; every cell is measured on the same samples.</summary>
    public int Samples { get; init; } = 10;
    /// <summary>Noise standard deviation as a multiple of the embedding's (ROME uses 3).</summary>
    public double NoiseScale { get; init; } = 3;
    /// <summary>MLP and attention outputs are restored in this many consecutive layers around each layer (ROME: 10 of 48); 0 picks layers / 4, at least 1.</summary>
    public int Window { get; init; }
    public int Seed { get; init; }
    /// <summary>The answer whose probability is traced; null: the clean run's top token.</summary>
    public string? Answer { get; init; }
}

/// <summary>
/// Indirect effects [layer][position] of restoring one kind of state: P(answer) with the clean state restored in the
/// corrupted run, minus P(answer) in the corrupted run, averaged over the noise samples.
/// </summary>
public sealed record CausalTraceReport(
    string Prompt, string[] Tokens, int SubjectStart, int SubjectEnd, string Answer, int AnswerId,
    double CleanProbability, double CorruptedProbability, double NoiseStd, int Samples, int Window,
    double[][] Residual, double[][] Mlp, double[][] Attention);

/// <summary>
/// Causal tracing (Meng et al., 2022, "Locating and Editing Factual Associations in GPT"): Gaussian noise on the subject
/// tokens' embeddings corrupts the run; restoring the clean value of one state — the residual stream after a layer, or
/// the MLP or attention output of a window of layers — at one position shows how much of the answer's probability that
/// state carries. The noise samples run as one batch.
/// </summary>
public static class CausalTrace
{
    public enum StateKind { Residual, Mlp, Attention }

    public static CausalTraceReport Run(LoadedModel loaded, string prompt, string subject, CausalTraceOptions options, Action<string, int, int>? progress = null)
    {
        var ids = loaded.Encode(prompt);
        var (start, end) = SubjectTokens.Find(loaded.Tokenizer, ids, subject);
        int? answer = options.Answer is null ? null : Evaluation.Continuations.Encode(loaded, prompt, ids, options.Answer, null)[0];
        var report = Trace(loaded.Model, ids, start, end, answer, options, progress);
        return report with { Prompt = prompt, Tokens = ids.Select(loaded.Tokenizer.TokenText).ToArray(), Answer = loaded.Tokenizer.TokenText(report.AnswerId) };
    }

    /// <summary>Traces token ids whose subject is [<paramref name="start"/>, <paramref name="end"/>); the answer is the clean top token unless given.</summary>
    public static CausalTraceReport Trace(HookedTransformer model, int[] ids, int start, int end, int? answerId, CausalTraceOptions options, Action<string, int, int>? progress = null)
    {
        if (options.Samples < 1) throw new ArgumentException("causal tracing needs at least one noise sample");
        var c = model.Config;
        int window = options.Window > 0 ? options.Window : Math.Max(1, c.NLayers / 4);
        var (cleanLogits, clean) = model.RunWithCache(TokenBatch.Single(ids), IsTraced, lastPositionOnly: true);
        var cleanProbs = LanguageModelling.LogSoftmax(cleanLogits.ToArray());
        int answer = answerId ?? Array.IndexOf(cleanProbs, cleanProbs.Max());
        double noiseStd = options.NoiseScale * StandardDeviation(model.Weights.Embedding);
        var tracer = new Tracer(model, ids, start, end, answer, noiseStd, options.Samples, options.Seed, clean);

        double corrupted = tracer.Probability([]);
        int total = 3 * c.NLayers * ids.Length, done = 0;
        double[][] Grid(StateKind kind) => Enumerable.Range(0, c.NLayers).Select(layer => Enumerable.Range(0, ids.Length).Select(position =>
        {
            progress?.Invoke("restoring states", ++done, total);
            return tracer.Probability(Restored(kind, layer, position, window, c)) - corrupted;
        }).ToArray()).ToArray();
        var residual = Grid(StateKind.Residual);
        var mlp = c.AttentionOnly ? [] : Grid(StateKind.Mlp);
        var attention = Grid(StateKind.Attention);
        return new CausalTraceReport("", ids.Select(id => id.ToString()).ToArray(), start, end, answer.ToString(), answer,
            Math.Exp(cleanProbs[answer]), corrupted, noiseStd, options.Samples, window, residual, mlp, attention);

        bool IsTraced(string name) => name.EndsWith("hook_resid_post", StringComparison.Ordinal) || name.EndsWith("hook_mlp_out", StringComparison.Ordinal) || name.EndsWith("hook_attn_out", StringComparison.Ordinal);
    }

    /// <summary>The (hook, position) pairs restored for one cell: the residual after the layer, or a window of MLP/attention outputs centred on it.</summary>
    public static IReadOnlyList<(string Hook, int Position)> Restored(StateKind kind, int layer, int position, int window, TransformerConfig c)
    {
        if (kind == StateKind.Residual) return [(HookNames.ResidPost(layer), position)];
        int from = Math.Max(0, layer - window / 2), to = Math.Min(c.NLayers, layer - window / 2 + window);
        return Enumerable.Range(from, to - from).Select(l => (kind == StateKind.Mlp ? HookNames.MlpOut(l) : HookNames.AttnOut(l), position)).ToList();
    }

    private static double StandardDeviation(Tensor t)
    {
        var v = t.Contiguous().ToArray();
        double mean = v.Average(x => (double)x);
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Length);
    }

    /// <summary>Runs the corrupted batch (one row per noise sample) with chosen clean states restored.</summary>
    private sealed class Tracer
    {
        private readonly HookedTransformer _model;
        private readonly TokenBatch _batch;
        private readonly Tensor _noise;
        private readonly ActivationCache _clean;
        private readonly int _answer, _samples, _length;

        public Tracer(HookedTransformer model, int[] ids, int start, int end, int answer, double noiseStd, int samples, int seed, ActivationCache clean)
        {
            _model = model;
            _answer = answer;
            _samples = samples;
            _length = ids.Length;
            _clean = clean;
            _batch = new TokenBatch(samples, ids.Length, Enumerable.Repeat(ids, samples).SelectMany(x => x).ToArray());
            int d = model.Config.DModel;
            _noise = Tensor.Zeros(samples, ids.Length, d);
            var n = _noise.Span;
            var rng = new Random(seed);
            for (int s = 0; s < samples; s++)
                for (int p = start; p < end; p++)
                    for (int i = 0; i < d; i++) n[(s * ids.Length + p) * d + i] = (float)(noiseStd * Gaussian(rng));
        }

        public double Probability(IReadOnlyList<(string Hook, int Position)> restored)
        {
            var hooks = new HookSet();
            hooks.Add(HookNames.Embed, (x, _) => hooks.Compute.Add(x, _noise));
            foreach (var (hook, position) in restored)
                hooks.Add(hook, (x, name) => RestorePosition(x, _clean[name], position));
            var logits = _model.Forward(Compute.Eager, _batch, hooks, lastPositionOnly: true).ToArray();
            int vocab = _model.Config.VocabSize;
            double sum = 0;
            for (int s = 0; s < _samples; s++) sum += Math.Exp(LanguageModelling.LogSoftmax(logits.AsSpan(s * vocab, vocab))[_answer]);
            return sum / _samples;
        }

        /// <summary>A copy of <paramref name="x"/> [S, T, w] whose row at <paramref name="position"/> is the clean run's, in every sample.</summary>
        private Tensor RestorePosition(Tensor x, Tensor clean, int position)
        {
            var copy = x.Clone();
            var c = copy.Span;
            var source = clean.Contiguous().Span;
            int width = source.Length / _length;
            for (int s = 0; s < _samples; s++)
                source.Slice(position * width, width).CopyTo(c.Slice((s * _length + position) * width, width));
            return copy;
        }

        private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;
using Pinpoint.Training;
using Pinpoint.Models.Formats;

namespace Pinpoint.Interpretability.Saes;

/// <summary>What the SAE trainer reports after an optimizer step (every log step carries the batch metrics).</summary>
public sealed record SaeStepReport(int Step, int TotalSteps, double Loss, double Mse, double L0, double ExplainedVariance,
    double DeadFraction, double AuxLoss, float LearningRate, double TokensPerSecond, string? Checkpoint);

/// <summary>
/// Trains a sparse autoencoder with a hand-written forward and backward pass: the encoder is one dense GEMM, and
/// everything after it works on the active (and, for JumpReLU, near-threshold) latents only — the decoder, its
/// gradient, the encoder's gradient and AuxK's dead-latent reconstruction — so a step costs about one dense
/// d_in × d_sae product per token instead of five. Rows are split over threads for the per-token work and latents
/// for the per-feature gradients, so every sum has a fixed order and a resumed run is bit-identical.
/// </summary>
public sealed class SaeTrainer : IDisposable
{
    private readonly SaeTrainConfig _config;
    private readonly SaeTrainingArchitecture _arch;
    private readonly IActivationBatches _data;
    private readonly string? _outDir;
    private readonly SaeMetadata _metadata;
    private readonly int _dIn, _dSae, _batch, _auxK, _chunks;
    private readonly bool _applyBDec, _unitDecoder, _tanhSparsity;

    // Parameters (in the normalised input space while training), their gradients and Adam moments.
    private readonly float[] _enc, _dec, _bEnc, _bDec, _logTheta;
    private readonly (string Name, float[] Param, float[] Grad, float[] M, float[] V)[] _params;
    private float _normScale = 1f;
    private float _batchThreshold;
    private readonly float[] _stepsSinceFired, _fireCount;
    private float _fireTokens;
    private int _step;
    private Stopwatch? _clock;
    private long? _tokensAtStart;
    private long _tokensSeen;

    // Scratch for one step.
    private readonly float[] _x, _xin, _pre, _resid, _dRecon, _dAux, _rowLoss, _auxRowLoss, _theta, _decNorm, _sparsityPerLatent, _rowKth;
    private readonly bool[] _dead;
    private readonly int[] _firesThisStep;
    private readonly float[] _rowAuxKth;
    private int _mainCountForIndex;
    private float[]? _batchHeap;
    private readonly float[][] _heaps, _gather;
    private readonly int[] _mainStart, _auxStart, _latStart, _latFill;
    private readonly SparseEntries _main = new(), _aux = new();
    private int[] _latEntries = [];
    private float _lambda, _globalKth, _auxScale, _auxCoefficient;
    private int _deadCount, _auxKUsed;

    public const string OptimizerFile = "optimizer.safetensors";

    public int Step => _step;
    public int TotalSteps => _config.Steps;
    public long TokensSeen => _tokensSeen;
    public float NormScale => _normScale;

    /// <summary>The last logged step's report: from this session, or read back from metrics.jsonl after a resume (null before any).</summary>
    public SaeStepReport? LastLogged { get; private set; }

    public SaeTrainer(SaeTrainConfig config, IActivationBatches data, SaeMetadata metadata, string? outDir = null, string? resumeFrom = null)
    {
        config.Validate();
        _config = config;
        _arch = config.ParsedArchitecture;
        _data = data;
        _outDir = outDir;
        _metadata = metadata;
        _dIn = data.DIn;
        _dSae = config.DSae;
        _batch = config.BatchSize;
        _applyBDec = true;
        _unitDecoder = _arch != SaeTrainingArchitecture.Standard;
        _tanhSparsity = _arch == SaeTrainingArchitecture.JumpRelu && config.JumpReluSparsity == "tanh";
        _auxK = config.AuxK > 0 ? config.AuxK : Math.Max(1, _dIn / 2);
        _chunks = Math.Min(_batch, 4 * WorkerPool.Concurrency);

        _enc = new float[_dSae * _dIn];
        _dec = new float[_dSae * _dIn];
        _bEnc = new float[_dSae];
        _bDec = new float[_dIn];
        _logTheta = new float[_arch == SaeTrainingArchitecture.JumpRelu ? _dSae : 0];
        (string, float[], float[], float[], float[]) Param(string name, float[] p) => (name, p, new float[p.Length], new float[p.Length], new float[p.Length]);
        _params = [Param("W_enc_rows", _enc), Param("W_dec", _dec), Param("b_enc", _bEnc), Param("b_dec", _bDec), Param("log_threshold", _logTheta)];
        _stepsSinceFired = new float[_dSae];
        _fireCount = new float[_dSae];

        _x = new float[_batch * _dIn];
        _xin = new float[_batch * _dIn];
        _pre = new float[_batch * _dSae];
        _resid = new float[_batch * _dIn];
        _dRecon = new float[_batch * _dIn];
        _dAux = new float[_batch * _dIn];
        _rowLoss = new float[_batch];
        _auxRowLoss = new float[_batch];
        _rowKth = new float[_batch];
        _theta = new float[_dSae];
        _decNorm = new float[_dSae];
        _sparsityPerLatent = new float[_dSae];
        _dead = new bool[_dSae];
        _firesThisStep = new int[_dSae];
        _rowAuxKth = new float[_batch];
        int heapSize = Math.Max(Math.Max(config.K, _auxK), 1);
        _heaps = Enumerable.Range(0, _chunks).Select(_ => new float[heapSize]).ToArray();
        _gather = Enumerable.Range(0, _chunks).Select(_ => new float[_dSae]).ToArray();
        _mainStart = new int[_batch + 1];
        _auxStart = new int[_batch + 1];
        _latStart = new int[_dSae + 1];
        _latFill = new int[_dSae];

        if (outDir is not null) Directory.CreateDirectory(outDir);
        if (resumeFrom is null) Initialise();
        else LoadCheckpoint(resumeFrom);
    }

    // ---------------------------------------------------------------- initialisation

    private void Initialise()
    {
        var rng = new Random(_config.Seed);
        float initNorm = _unitDecoder ? 1f : 0.1f;
        for (int j = 0; j < _dSae; j++)
        {
            var row = _dec.AsSpan(j * _dIn, _dIn);
            for (int i = 0; i < _dIn; i++) row[i] = Gaussian(rng);
            TensorPrimitives.Multiply(row, initNorm / TensorPrimitives.Norm(row), row);
        }
        _dec.CopyTo(_enc, 0);
        if (_arch == SaeTrainingArchitecture.JumpRelu) Array.Fill(_logTheta, MathF.Log(_config.JumpReluInitialThreshold));

        int rows = _config.InitBatches * _batch;
        var sample = new float[(long)rows * _dIn];
        for (int b = 0; b < _config.InitBatches; b++) _data.Fill(b, _batch, sample.AsSpan(b * _batch * _dIn, _batch * _dIn));
        if (_config.NormalizeActivations)
        {
            double meanNorm = 0;
            for (int r = 0; r < rows; r++) meanNorm += TensorPrimitives.Norm(sample.AsSpan(r * _dIn, _dIn));
            meanNorm /= rows;
            if (!(meanNorm > 0) || !double.IsFinite(meanNorm))
                throw new InvalidDataException($"the training activations have mean norm {meanNorm}; cannot normalise them");
            _normScale = (float)(Math.Sqrt(_dIn) / meanNorm);
            TensorPrimitives.Multiply(sample, _normScale, sample);
        }
        switch (_config.BDecInit)
        {
            case "mean": ColumnMean(sample, rows, _dIn, _bDec); break;
            case "geometric_median": GeometricMedian(sample, rows, _dIn, _bDec); break;
        }
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));

    private static void ColumnMean(ReadOnlySpan<float> x, int rows, int d, Span<float> mean)
    {
        mean.Clear();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(mean, x.Slice(r * d, d), mean);
        TensorPrimitives.Multiply(mean, 1f / rows, mean);
    }

    /// <summary>Weiszfeld's iteration for the point minimising the summed distance to the rows (robust to outliers).</summary>
    public static void GeometricMedian(ReadOnlySpan<float> x, int rows, int d, Span<float> median, int iterations = 30)
    {
        ColumnMean(x, rows, d, median);
        var next = new double[d];
        var diff = new float[d];
        for (int it = 0; it < iterations; it++)
        {
            Array.Clear(next);
            double weightSum = 0;
            for (int r = 0; r < rows; r++)
            {
                var row = x.Slice(r * d, d);
                TensorPrimitives.Subtract(row, median, diff);
                double w = 1 / Math.Max(TensorPrimitives.Norm(diff), 1e-6f);
                weightSum += w;
                for (int i = 0; i < d; i++) next[i] += w * row[i];
            }
            for (int i = 0; i < d; i++) median[i] = (float)(next[i] / weightSum);
        }
    }

    // ---------------------------------------------------------------- training loop

    /// <summary>
    /// Runs steps until the configured total, <paramref name="untilStep"/> (several SAEs sharing one harvest advance
    /// in lockstep) or cancellation, logging and checkpointing on schedule.
    /// </summary>
    public void Run(Action<SaeStepReport>? report = null, CancellationToken cancel = default, int untilStep = int.MaxValue)
    {
        _clock ??= Stopwatch.StartNew();
        _tokensAtStart ??= _tokensSeen;
        while (_step < Math.Min(_config.Steps, untilStep) && !cancel.IsCancellationRequested)
        {
            var stats = TrainStep();
            double tps = (_tokensSeen - _tokensAtStart.Value) / _clock.Elapsed.TotalSeconds;
            bool checkpointStep = _outDir is not null && IsCheckpointStep(_step);
            bool log = _step % _config.LogEvery == 0 || _step == _config.Steps || checkpointStep || _step == 1;
            string? checkpoint = checkpointStep ? SaveCheckpoint(stats.Loss) : null;
            if (!log) continue;
            var r = stats with { TokensPerSecond = tps, Checkpoint = checkpoint };
            LastLogged = r;
            if (_outDir is not null) AppendMetrics(r);
            report?.Invoke(r);
        }
        if (_outDir is not null && (_step == _config.Steps || cancel.IsCancellationRequested)) LossCurve.Write(Path.Combine(_outDir, Trainer.MetricsFile), Path.Combine(_outDir, "loss.svg"));
    }

    /// <summary>One optimizer step on the next batch; returns its metrics (throughput and checkpoint left empty).</summary>
    public SaeStepReport TrainStep()
    {
        int step = _step + 1;
        _data.Fill(step - 1, _batch, _x);
        if (_normScale != 1f) TensorPrimitives.Multiply(_x, _normScale, _x);
        float ramp = _config.SparsityRampAt(step);
        var (loss, mse, l0, auxLoss) = LossAndGradients(ramp);
        if (!double.IsFinite(loss))
            throw new InvalidDataException($"SAE loss became {loss} at step {step}; stopped without updating the weights" +
                (_outDir is null ? "" : $" — the last good checkpoint in {Path.Combine(_outDir, Trainer.CheckpointsFolder)} is kept"));
        double gradNorm = Math.Sqrt(_params.Sum(p => (double)TensorPrimitives.SumOfSquares(p.Grad)));
        if (!double.IsFinite(gradNorm))
            throw new InvalidDataException($"SAE gradient norm became {gradNorm} at step {step}; stopped without updating the weights");
        if (_config.GradClip > 0 && gradNorm > _config.GradClip)
            foreach (var p in _params) TensorPrimitives.Multiply(p.Grad, (float)(_config.GradClip / gradNorm), p.Grad);
        float lr = _config.LearningRateAt(step);
        foreach (var (_, param, grad, m, v) in _params)
            if (param.Length > 0) AdamW.Step(param, grad, m, v, lr, _config.Beta1, _config.Beta2, 1e-8f, 0f, step);
        if (_unitDecoder) NormaliseDecoderRows();
        for (int j = 0; j < _dSae; j++)
        {
            _stepsSinceFired[j] = _firesThisStep[j] > 0 ? 0 : _stepsSinceFired[j] + 1;
            _fireCount[j] += _firesThisStep[j];
        }
        if (_config.ResampleEvery > 0 && step % _config.ResampleEvery == 0 && step <= (1 - _config.DecayFraction) * _config.Steps) ResampleDeadLatents(step);
        _fireTokens += _batch;
        _step = step;
        _tokensSeen += _batch;
        double ev = ExplainedVariance();
        double deadFraction = _stepsSinceFired.Count(s => (double)s * _batch >= _config.DeadTokens) / (double)_dSae;
        return new SaeStepReport(step, _config.Steps, loss, mse, l0, ev, deadFraction, auxLoss, lr, 0, null);
    }

    /// <summary>
    /// Restarts each dead latent on a direction the SAE misses (Anthropic, "Towards Monosemanticity", 2023, with the
    /// residual x − x̂ in place of the input): a row of this batch drawn with probability ∝ its squared error², the
    /// decoder row set to its unit residual, the encoder row to the same direction at the alive rows' mean norm times
    /// <see cref="SaeTrainConfig.ResampleEncoderScale"/>, b_enc (and a JumpReLU threshold) reset, Adam state cleared.
    /// Without it, BatchTopK and JumpReLU settle with most latents never selected (each fires only above a threshold
    /// set by the latents that already work) and the alive ones each covering several true directions.
    /// </summary>
    private void ResampleDeadLatents(int step)
    {
        var dead = new List<int>();
        double aliveNorm = 0, aliveDecNorm = 0;
        for (int j = 0; j < _dSae; j++)
        {
            if ((double)_stepsSinceFired[j] * _batch >= _config.DeadTokens) dead.Add(j);
            else
            {
                aliveNorm += TensorPrimitives.Norm(_enc.AsSpan(j * _dIn, _dIn));
                aliveDecNorm += TensorPrimitives.Norm(_dec.AsSpan(j * _dIn, _dIn));
            }
        }
        int alive = _dSae - dead.Count;
        if (dead.Count == 0 || alive == 0) return;
        aliveNorm /= alive;
        aliveDecNorm /= alive;
        var cumulative = new double[_batch];
        double total = 0;
        for (int r = 0; r < _batch; r++) cumulative[r] = total += (double)_rowLoss[r] * _rowLoss[r];
        if (!(total > 0)) return;
        var rng = new Random(SeedMix.Of(_config.Seed, step));
        foreach (int j in dead)
        {
            int r = Array.BinarySearch(cumulative, rng.NextDouble() * total);
            r = Math.Min(r < 0 ? ~r : r, _batch - 1);
            var resid = _resid.AsSpan(r * _dIn, _dIn); // x̂ − x
            float norm = TensorPrimitives.Norm(resid);
            if (!(norm > 0)) continue;
            TensorPrimitives.Multiply(resid, -(float)((_unitDecoder ? 1 : aliveDecNorm) / norm), _dec.AsSpan(j * _dIn, _dIn));
            TensorPrimitives.Multiply(resid, -(float)(aliveNorm * _config.ResampleEncoderScale / norm), _enc.AsSpan(j * _dIn, _dIn));
            _bEnc[j] = 0;
            if (_logTheta.Length > 0) _logTheta[j] = MathF.Log(_config.JumpReluInitialThreshold);
            foreach (var (name, param, _, m, v) in _params)
            {
                if (name == "b_dec" || param.Length == 0) continue;
                int width = param.Length / _dSae;
                m.AsSpan(j * width, width).Clear();
                v.AsSpan(j * width, width).Clear();
            }
            _stepsSinceFired[j] = 0;
        }
    }

    private void NormaliseDecoderRows()
    {
        for (int j = 0; j < _dSae; j++)
        {
            var row = _dec.AsSpan(j * _dIn, _dIn);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Multiply(row, 1f / norm, row);
        }
    }

    /// <summary>1 − Σ‖x − x̂‖² / Σ‖x − x̄‖² over the last batch (x̄ its per-dimension mean).</summary>
    private double ExplainedVariance()
    {
        var mean = new float[_dIn];
        ColumnMean(_x, _batch, _dIn, mean);
        var diff = new float[_dIn];
        double total = 0, residual = 0;
        for (int r = 0; r < _batch; r++)
        {
            TensorPrimitives.Subtract(_x.AsSpan(r * _dIn, _dIn), mean, diff);
            total += TensorPrimitives.SumOfSquares(diff);
            residual += _rowLoss[r];
        }
        return total > 0 ? 1 - residual / total : double.NaN;
    }

    private bool IsCheckpointStep(int step) =>
        step == _config.Steps || (step & (step - 1)) == 0 && step >= 64 || (_config.CheckpointEvery > 0 && step % _config.CheckpointEvery == 0);

    // ---------------------------------------------------------------- forward and backward

    /// <summary>Parameters with their gradients from the last <see cref="LossAndGradients(ReadOnlySpan{float}, float)"/> (gradient checks).</summary>
    internal IEnumerable<(string Name, float[] Param, float[] Grad)> ParametersAndGradients => _params.Select(p => (p.Name, p.Param, p.Grad));

    /// <summary>Whether the decoder's gradient has its component along each (unit) decoder row removed.</summary>
    internal bool ProjectsDecoderGradient => _unitDecoder;

    /// <summary>Makes every latent count as dead (so AuxK runs) — for gradient checks.</summary>
    internal void MarkAllDead() => Array.Fill(_stepsSinceFired, (float)_config.DeadTokens);

    /// <summary>Loss and gradients on an explicit (already normalised) batch.</summary>
    internal (double Loss, double Mse, double L0, double AuxLoss) LossAndGradients(ReadOnlySpan<float> batch, float sparsityRamp)
    {
        batch.CopyTo(_x);
        return LossAndGradients(sparsityRamp);
    }

    /// <summary>
    /// The loss on the batch in <c>_x</c> (already normalised) and the gradients of every parameter, with the
    /// sparsity coefficient scaled by <paramref name="sparsityRamp"/>. Returns (loss, mse, l0, aux loss).
    /// </summary>
    private (double Loss, double Mse, double L0, double AuxLoss) LossAndGradients(float sparsityRamp)
    {
        int n = _dSae, d = _dIn, bsz = _batch;
        _lambda = sparsityRamp * (_arch switch
        {
            SaeTrainingArchitecture.Standard => _config.L1Coefficient,
            SaeTrainingArchitecture.JumpRelu => _config.L0Coefficient,
            _ => 0f,
        });
        for (int r = 0; r < bsz; r++)
        {
            var xr = _x.AsSpan(r * d, d);
            if (_applyBDec) TensorPrimitives.Subtract(xr, _bDec, _xin.AsSpan(r * d, d));
            else xr.CopyTo(_xin.AsSpan(r * d, d));
            _bEnc.CopyTo(_pre, r * n);
        }
        Gemm.Multiply(bsz, n, d, _xin, d, false, _enc, d, true, _pre, n, beta: 1f);

        if (_arch == SaeTrainingArchitecture.JumpRelu) TensorPrimitives.Exp(_logTheta, _theta);
        if (_arch == SaeTrainingArchitecture.Standard)
            for (int j = 0; j < n; j++) _decNorm[j] = TensorPrimitives.Norm(_dec.AsSpan(j * d, d));
        if (_arch == SaeTrainingArchitecture.BatchTopK) SelectBatchThreshold();
        if (_arch == SaeTrainingArchitecture.TopK) WorkerPool.ParallelFor(_chunks, this, static (t, c) => t.RowThresholds(c));

        _deadCount = 0;
        bool aux = _arch is SaeTrainingArchitecture.TopK or SaeTrainingArchitecture.BatchTopK && _config.AuxKCoefficient > 0;
        for (int j = 0; j < n; j++)
        {
            _dead[j] = aux && (double)_stepsSinceFired[j] * bsz >= _config.DeadTokens;
            if (_dead[j]) _deadCount++;
        }
        _auxKUsed = Math.Min(_auxK, _deadCount);
        _auxScale = Math.Min(_deadCount / (float)_auxK, 1f);
        _auxCoefficient = _config.AuxKCoefficient;

        // Sparse codes: count per row, prefix sums, then fill.
        WorkerPool.ParallelFor(_chunks, this, static (t, c) => t.CountRows(c));
        int mainCount = PrefixSum(_mainStart, bsz), auxCount = PrefixSum(_auxStart, bsz);
        _main.EnsureCapacity(mainCount);
        _aux.EnsureCapacity(auxCount);
        WorkerPool.ParallelFor(_chunks, this, static (t, c) => t.FillRows(c));
        WorkerPool.ParallelFor(_chunks, this, static (t, c) => t.DecodeRows(c));
        BuildLatentIndex(mainCount, auxCount);
        WorkerPool.ParallelFor(_chunks, this, static (t, c) => t.LatentGradients(c));

        // b_dec: the reconstruction's bias, minus its share through x − b_dec at the encoder input.
        var gbDec = _params[3].Grad;
        Array.Clear(gbDec);
        for (int r = 0; r < bsz; r++) TensorPrimitives.Add(gbDec, _dRecon.AsSpan(r * d, d), gbDec);
        if (_applyBDec)
        {
            var encoderShare = new float[d];
            Gemm.Multiply(1, d, n, _params[2].Grad, n, false, _enc, d, false, encoderShare, d);
            TensorPrimitives.Subtract(gbDec, encoderShare, gbDec);
        }

        double mse = 0, auxLoss = 0;
        for (int r = 0; r < bsz; r++) { mse += _rowLoss[r]; auxLoss += _auxRowLoss[r]; }
        mse /= bsz;
        auxLoss *= _auxCoefficient * _auxScale / bsz;
        int active = 0;
        for (int e = 0; e < mainCount; e++) if (_main.F[e] != 0) active++;
        double sparsity = _arch switch
        {
            SaeTrainingArchitecture.Standard => _lambda / bsz * _sparsityPerLatent.Sum(v => (double)v),
            SaeTrainingArchitecture.JumpRelu when _tanhSparsity => _lambda / bsz * TanhSum(mainCount),
            SaeTrainingArchitecture.JumpRelu => _lambda / bsz * active,
            _ => 0,
        };
        return (mse + sparsity + auxLoss, mse, active / (double)bsz, auxLoss);
    }

    /// <summary>Σ tanh(c·f) over the active main entries (the tanh sparsity penalty before λ and the batch mean).</summary>
    private double TanhSum(int mainCount)
    {
        double sum = 0;
        for (int e = 0; e < mainCount; e++) if (_main.F[e] != 0) sum += MathF.Tanh(_config.JumpReluTanhScale * _main.F[e]);
        return sum;
    }

    private static int PrefixSum(int[] counts, int length)
    {
        int total = 0;
        for (int i = 0; i < length; i++)
        {
            int c = counts[i];
            counts[i] = total;
            total += c;
        }
        counts[length] = total;
        return total;
    }

    private (int Start, int End) RowRange(int chunk) => (chunk * _batch / _chunks, (chunk + 1) * _batch / _chunks);

    private void RowThresholds(int chunk)
    {
        var (start, end) = RowRange(chunk);
        for (int r = start; r < end; r++)
            _rowKth[r] = _config.K >= _dSae ? float.NegativeInfinity : LatentSelection.KthLargest(_pre.AsSpan(r * _dSae, _dSae), _config.K, _heaps[chunk]);
    }

    /// <summary>BatchTopK: the (k·batch)-th largest pre-activation of the batch, and the running inference threshold.</summary>
    private void SelectBatchThreshold()
    {
        int kTotal = Math.Min(_config.K * _batch, _pre.Length);
        _batchHeap ??= new float[kTotal];
        _globalKth = LatentSelection.KthLargest(_pre, kTotal, _batchHeap);
        float minSelected = _globalKth > 0 ? _globalKth : MinPositive(_pre);
        if (float.IsFinite(minSelected))
            _batchThreshold = _step == 0 && _batchThreshold == 0 ? minSelected : 0.99f * _batchThreshold + 0.01f * minSelected;
    }

    private static float MinPositive(ReadOnlySpan<float> values)
    {
        float min = float.PositiveInfinity;
        foreach (var v in values) if (v > 0 && v < min) min = v;
        return min;
    }

    /// <summary>Whether latent j of a row joins the main codes (active, or near a JumpReLU threshold), and its activation.</summary>
    private bool MainEntry(float pre, int j, float rowKth, out float f)
    {
        switch (_arch)
        {
            case SaeTrainingArchitecture.Standard:
                f = pre;
                return pre > 0;
            case SaeTrainingArchitecture.TopK:
                f = pre;
                return pre > 0 && pre >= rowKth;
            case SaeTrainingArchitecture.BatchTopK:
                f = pre;
                return pre > 0 && pre >= _globalKth;
            default:
                float theta = _theta[j];
                f = pre > theta ? pre : 0f;
                return pre > theta - _config.JumpReluBandwidth / 2;
        }
    }

    /// <summary>AuxK: the k_aux largest positive pre-activations among dead latents of row r are at or above the returned value.</summary>
    private float AuxThreshold(int r, int chunk)
    {
        if (_auxKUsed == 0) return float.PositiveInfinity;
        var gather = _gather[chunk];
        var pre = _pre.AsSpan(r * _dSae, _dSae);
        int count = 0;
        for (int j = 0; j < _dSae; j++) if (_dead[j]) gather[count++] = pre[j];
        return LatentSelection.KthLargest(gather.AsSpan(0, count), _auxKUsed, _heaps[chunk]);
    }

    private void CountRows(int chunk)
    {
        var (start, end) = RowRange(chunk);
        for (int r = start; r < end; r++)
        {
            var pre = _pre.AsSpan(r * _dSae, _dSae);
            int main = 0, aux = 0;
            float auxKth = AuxThreshold(r, chunk);
            for (int j = 0; j < pre.Length; j++)
            {
                if (MainEntry(pre[j], j, _rowKth[r], out _)) main++;
                if (_dead[j] && pre[j] > 0 && pre[j] >= auxKth) aux++;
            }
            _mainStart[r] = main;
            _auxStart[r] = aux;
            _rowAuxKth[r] = auxKth;
        }
    }

    private void FillRows(int chunk)
    {
        var (start, end) = RowRange(chunk);
        for (int r = start; r < end; r++)
        {
            var pre = _pre.AsSpan(r * _dSae, _dSae);
            int e = _mainStart[r], a = _auxStart[r];
            float auxKth = _rowAuxKth[r];
            for (int j = 0; j < pre.Length; j++)
            {
                if (MainEntry(pre[j], j, _rowKth[r], out float f)) _main.Set(e++, r, j, f, pre[j]);
                if (_dead[j] && pre[j] > 0 && pre[j] >= auxKth) _aux.Set(a++, r, j, pre[j], pre[j]);
            }
        }
    }

    /// <summary>Per row: x̂ from the active latents, the residual and its gradient, each entry's gradient; the same for AuxK.</summary>
    private void DecodeRows(int chunk)
    {
        var (start, end) = RowRange(chunk);
        int d = _dIn;
        float invBatch = 1f / _batch;
        for (int r = start; r < end; r++)
        {
            var resid = _resid.AsSpan(r * d, d);
            _bDec.CopyTo(resid);
            for (int e = _mainStart[r]; e < _mainStart[r + 1]; e++)
                if (_main.F[e] != 0) TensorPrimitives.MultiplyAdd(_dec.AsSpan(_main.Col[e] * d, d), _main.F[e], resid, resid);
            TensorPrimitives.Subtract(resid, _x.AsSpan(r * d, d), resid);
            _rowLoss[r] = TensorPrimitives.SumOfSquares(resid);
            var dRecon = _dRecon.AsSpan(r * d, d);
            TensorPrimitives.Multiply(resid, 2f * invBatch, dRecon);
            for (int e = _mainStart[r]; e < _mainStart[r + 1]; e++)
            {
                int j = _main.Col[e];
                float g = TensorPrimitives.Dot(dRecon, _dec.AsSpan(j * d, d));
                if (_tanhSparsity)
                {
                    // ∂/∂f of λ·tanh(c·f) (unit decoder rows), at f = 0 too: below the threshold it reaches θ through the estimator.
                    float t = MathF.Tanh(_config.JumpReluTanhScale * _main.F[e]);
                    g += _lambda * invBatch * _config.JumpReluTanhScale * (1 - t * t);
                }
                _main.Df[e] = g;
                _main.Dpre[e] = _main.F[e] == 0 ? 0f
                    : _arch == SaeTrainingArchitecture.Standard ? g + _lambda * _decNorm[j] * invBatch
                    : g;
            }

            // AuxK: reconstruct the residual error e = x − x̂ (a constant) from the dead latents alone.
            _auxRowLoss[r] = 0;
            if (_auxStart[r + 1] == _auxStart[r]) continue;
            var dAux = _dAux.AsSpan(r * d, d);
            resid.CopyTo(dAux); // ê − e = ê + (x̂ − x)
            for (int e = _auxStart[r]; e < _auxStart[r + 1]; e++)
                TensorPrimitives.MultiplyAdd(_dec.AsSpan(_aux.Col[e] * d, d), _aux.F[e], dAux, dAux);
            _auxRowLoss[r] = TensorPrimitives.SumOfSquares(dAux);
            TensorPrimitives.Multiply(dAux, 2f * _auxCoefficient * _auxScale * invBatch, dAux);
            for (int e = _auxStart[r]; e < _auxStart[r + 1]; e++)
                _aux.Dpre[e] = TensorPrimitives.Dot(dAux, _dec.AsSpan(_aux.Col[e] * d, d));
        }
    }

    /// <summary>Groups entries by latent (main codes first, then AuxK's, each in row order), so per-latent sums have a fixed order.</summary>
    private void BuildLatentIndex(int mainCount, int auxCount)
    {
        Array.Clear(_latFill);
        for (int e = 0; e < mainCount; e++) _latFill[_main.Col[e]]++;
        for (int e = 0; e < auxCount; e++) _latFill[_aux.Col[e]]++;
        int total = 0;
        for (int j = 0; j < _dSae; j++)
        {
            _latStart[j] = total;
            total += _latFill[j];
            _latFill[j] = _latStart[j];
        }
        _latStart[_dSae] = total;
        if (_latEntries.Length < total) _latEntries = new int[Math.Max(total, _latEntries.Length * 3 / 2)];
        for (int e = 0; e < mainCount; e++) _latEntries[_latFill[_main.Col[e]]++] = e;
        for (int e = 0; e < auxCount; e++) _latEntries[_latFill[_aux.Col[e]]++] = mainCount + e;
        _mainCountForIndex = mainCount;
    }

    /// <summary>Per latent: gradients of its decoder row, encoder row, encoder bias and JumpReLU threshold.</summary>
    private void LatentGradients(int chunk)
    {
        int start = chunk * _dSae / _chunks, end = (chunk + 1) * _dSae / _chunks, d = _dIn;
        float invBatch = 1f / _batch, eps = _config.JumpReluBandwidth;
        var gEnc = _params[0].Grad;
        var gDec = _params[1].Grad;
        var gbEnc = _params[2].Grad;
        var gLogTheta = _params[4].Grad;
        for (int j = start; j < end; j++)
        {
            var gd = gDec.AsSpan(j * d, d);
            var ge = gEnc.AsSpan(j * d, d);
            gd.Clear();
            ge.Clear();
            double gb = 0, gTheta = 0, sumF = 0;
            int fires = 0;
            float theta = _arch == SaeTrainingArchitecture.JumpRelu ? _theta[j] : 0f;
            for (int i = _latStart[j]; i < _latStart[j + 1]; i++)
            {
                int e = _latEntries[i];
                bool isAux = e >= _mainCountForIndex;
                var codes = isAux ? _aux : _main;
                if (isAux) e -= _mainCountForIndex;
                int r = codes.Row[e];
                float f = codes.F[e], dpre = codes.Dpre[e];
                if (f != 0)
                {
                    TensorPrimitives.MultiplyAdd((isAux ? _dAux : _dRecon).AsSpan(r * d, d), f, gd, gd);
                    if (!isAux)
                    {
                        sumF += f;
                        fires++;
                    }
                }
                if (dpre != 0)
                {
                    TensorPrimitives.MultiplyAdd(_xin.AsSpan(r * d, d), dpre, ge, ge);
                    gb += dpre;
                }
                if (!isAux && _arch == SaeTrainingArchitecture.JumpRelu && Math.Abs(codes.Pre[e] - theta) < eps / 2)
                    // Straight-through estimates of ∂/∂θ: of pre·H(pre − θ) (Df holds the tanh penalty's part too) and of the step L0 term H(pre − θ).
                    gTheta += -(theta / eps) * codes.Df[e] - (_tanhSparsity ? 0 : _lambda * invBatch / eps);
            }
            _firesThisStep[j] = fires;
            _sparsityPerLatent[j] = (float)(sumF * (_arch == SaeTrainingArchitecture.Standard ? _decNorm[j] : 0));
            gbEnc[j] = (float)gb;
            if (_arch == SaeTrainingArchitecture.Standard && sumF > 0 && _decNorm[j] > 0)
                TensorPrimitives.MultiplyAdd(_dec.AsSpan(j * d, d), (float)(_lambda * sumF * invBatch / _decNorm[j]), gd, gd);
            if (_arch == SaeTrainingArchitecture.JumpRelu) gLogTheta[j] = (float)(gTheta * theta);
            if (_unitDecoder)
            {
                // Only the part of the gradient that turns the (unit) row moves it; the rest is undone by renormalising.
                var row = _dec.AsSpan(j * d, d);
                TensorPrimitives.MultiplyAdd(row, -TensorPrimitives.Dot(gd, row), gd, gd);
            }
        }
    }

    // ---------------------------------------------------------------- saving and resuming

    /// <summary>The trained SAE in activation units: the input scale folded into W_enc, W_dec and b_dec.</summary>
    public Sae Export()
    {
        float s = _normScale;
        var enc = _enc.ToArray();
        TensorPrimitives.Multiply(enc, s, enc);
        var dec = _dec.ToArray();
        TensorPrimitives.Multiply(dec, 1f / s, dec);
        var bDec = _bDec.ToArray();
        TensorPrimitives.Multiply(bDec, 1f / s, bDec);
        var arch = SaeArchitectureNames.SavedAs(_arch);
        float[]? threshold = _arch switch
        {
            SaeTrainingArchitecture.JumpRelu => _logTheta.Select(MathF.Exp).ToArray(),
            SaeTrainingArchitecture.BatchTopK => Enumerable.Repeat(_batchThreshold, _dSae).ToArray(),
            _ => null,
        };
        return new Sae(_dIn, _dSae, arch, _config.K, _applyBDec, enc, dec, _bEnc.ToArray(), bDec, threshold) { Metadata = _metadata };
    }

    /// <summary>log10 of each feature's firing rate since the start of the run (10⁻¹⁰ for none, as SAELens writes it).</summary>
    public float[] LogDensity() => _fireCount.Select(c => (float)Math.Log10(c / Math.Max(_fireTokens, 1f) + 1e-10)).ToArray();

    private string SaveCheckpoint(double loss)
    {
        string name = $"step-{_step:D7}";
        string dir = Path.Combine(_outDir!, Trainer.CheckpointsFolder, name);
        Directory.CreateDirectory(dir);
        SaeLensFormat.Write(dir, Export(), LogDensity());
        var tensors = _params.Where(p => p.Param.Length > 0).SelectMany(p => new[]
        {
            KeyValuePair.Create(p.Name, Tensor.FromArray(p.Param, p.Param.Length)),
            KeyValuePair.Create(p.Name + ".m", Tensor.FromArray(p.M, p.M.Length)),
            KeyValuePair.Create(p.Name + ".v", Tensor.FromArray(p.V, p.V.Length)),
        }).Append(KeyValuePair.Create("steps_since_fired", Tensor.FromArray(_stepsSinceFired, _dSae)))
          .Append(KeyValuePair.Create("fire_count", Tensor.FromArray(_fireCount, _dSae)));
        var meta = new Dictionary<string, string>
        {
            ["norm_scale"] = _normScale.ToString("R", CultureInfo.InvariantCulture),
            ["batch_threshold"] = _batchThreshold.ToString("R", CultureInfo.InvariantCulture),
            ["fire_tokens"] = _fireTokens.ToString("R", CultureInfo.InvariantCulture),
        };
        SafetensorsWriter.Write(Path.Combine(dir, OptimizerFile), tensors, meta);
        var state = new TrainingState { Step = _step, TokensSeen = _tokensSeen, Architecture = SaeArchitectureNames.Name(_arch), LastTrainLoss = loss };
        AtomicFile.Write(Path.Combine(dir, TrainingState.FileName), st => JsonSerializer.Serialize(st, state, TrainConfig.Json));
        AtomicFile.Write(Path.Combine(_outDir!, Trainer.LatestFile), st => JsonSerializer.Serialize(st, name));
        return dir;
    }

    private void LoadCheckpoint(string dir)
    {
        var state = TrainingState.Load(dir);
        if (state.Architecture != SaeArchitectureNames.Name(_arch))
            throw new InvalidDataException($"{dir}: checkpoint trains a '{state.Architecture}' SAE, the config asks for '{SaeArchitectureNames.Name(_arch)}'");
        var path = Path.Combine(dir, OptimizerFile);
        using var file = TensorFile.Open(path);
        void Read(string name, float[] into)
        {
            var t = file[name];
            if (t.Size != into.Length) throw new ModelFormatException(path, $"field '{name}' has {t.Size} values, the config needs {into.Length}");
            t.CopyTo(into);
        }
        foreach (var (name, param, _, m, v) in _params)
        {
            if (param.Length == 0) continue;
            Read(name, param);
            Read(name + ".m", m);
            Read(name + ".v", v);
        }
        Read("steps_since_fired", _stepsSinceFired);
        Read("fire_count", _fireCount);
        float Meta(string key) => float.Parse(file.GetString(key), CultureInfo.InvariantCulture);
        _normScale = Meta("norm_scale");
        _batchThreshold = Meta("batch_threshold");
        _fireTokens = Meta("fire_tokens");
        _step = state.Step;
        _tokensSeen = state.TokensSeen;
        LastLogged = _outDir is null ? null : LoggedReport(Path.Combine(_outDir, Trainer.MetricsFile), _step, _config.Steps);
    }

    /// <summary>The report metrics.jsonl holds for <paramref name="step"/> (every checkpoint step is logged), or null.</summary>
    private static SaeStepReport? LoggedReport(string metricsPath, int step, int totalSteps)
    {
        if (!File.Exists(metricsPath)) return null;
        var record = LossCurve.Read(metricsPath).LastOrDefault(m => m.Step == step);
        if (record is null) return null;
        double Dynamic(string key) => record.Dynamics?.GetValueOrDefault(key, double.NaN) ?? double.NaN;
        return new SaeStepReport(step, totalSteps, record.TrainLoss ?? double.NaN, Dynamic("mse"), Dynamic("l0"), Dynamic("explained_variance"),
            Dynamic("dead_fraction"), Dynamic("aux_loss"), (float)(record.LearningRate ?? 0), record.TokensPerSecond ?? double.NaN, null);
    }

    private void AppendMetrics(SaeStepReport r)
    {
        var record = new MetricsRecord
        {
            Step = r.Step, Tokens = _tokensSeen, TrainLoss = r.Loss, LearningRate = r.LearningRate, TokensPerSecond = r.TokensPerSecond,
            Dynamics = new Dictionary<string, double>
            {
                ["mse"] = r.Mse, ["l0"] = r.L0, ["explained_variance"] = r.ExplainedVariance,
                ["dead_fraction"] = r.DeadFraction, ["aux_loss"] = r.AuxLoss,
            },
        };
        File.AppendAllText(Path.Combine(_outDir!, Trainer.MetricsFile), JsonSerializer.Serialize(record, Trainer.MetricsJson) + "\n");
    }

    public void Dispose() => _data.Dispose();
}

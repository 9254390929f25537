using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pinpoint.Interpretability.Saes;

/// <summary>Everything that determines an SAE training run; stored beside its checkpoints so a resume uses the same recipe.</summary>
public sealed record SaeTrainConfig
{
    /// <summary>standard, topk, batchtopk or jumprelu.</summary>
    public string Architecture { get; init; } = "topk";
    public int DSae { get; init; } = 2048;
    /// <summary>Active features per token (topk) or on average over the batch (batchtopk).</summary>
    public int K { get; init; } = 32;
    /// <summary>Tokens per optimizer step.</summary>
    public int BatchSize { get; init; } = 4096;
    public int Steps { get; init; } = 2000;
    public float LearningRate { get; init; } = 4e-4f;
    public int WarmupSteps { get; init; } = 20;
    /// <summary>The learning rate falls linearly to 0 over this last fraction of the steps (Anthropic, April 2024).</summary>
    public float DecayFraction { get; init; } = 0.2f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float GradClip { get; init; } = 1f;
    /// <summary>standard: coefficient of Σ f_i·‖W_dec,i‖ (inputs scaled to E‖x‖ = √d_in).</summary>
    public float L1Coefficient { get; init; } = 5f;
    /// <summary>jumprelu: coefficient of the sparsity penalty (step: the L0 count; tanh: Σ tanh(c·f)).</summary>
    public float L0Coefficient { get; init; } = 1f;
    /// <summary>jumprelu: "tanh" (Anthropic, January 2025: Σ tanh(c·f·‖W_dec‖), whose gradient reaches the threshold through the JumpReLU's own estimator) or "step" (Rajamanoharan et al. 2024: the L0 count H(pre − θ) with its own estimator).</summary>
    public string JumpReluSparsity { get; init; } = "tanh";
    /// <summary>jumprelu, tanh sparsity: c in tanh(c·f·‖W_dec‖).</summary>
    public float JumpReluTanhScale { get; init; } = 4f;
    /// <summary>The sparsity coefficient rises linearly from 0 over this first fraction of the steps.</summary>
    public float SparsityWarmupFraction { get; init; } = 0.05f;
    /// <summary>topk/batchtopk: weight of the AuxK loss that reconstructs the residual from dead latents (Gao et al.: 1/32).</summary>
    public float AuxKCoefficient { get; init; } = 1f / 32;
    /// <summary>Dead latents used by AuxK per token; 0 means d_in / 2.</summary>
    public int AuxK { get; init; }
    /// <summary>A latent that has not fired for this many tokens counts as dead.</summary>
    public long DeadTokens { get; init; } = 1_000_000;
    /// <summary>Every this many steps (0: never; none in the final learning-rate decay), dead latents restart on directions the SAE misses.</summary>
    public int ResampleEvery { get; init; }
    /// <summary>A restarted latent's encoder norm, as a multiple of the alive latents' mean (Anthropic 2023: 0.2).</summary>
    public float ResampleEncoderScale { get; init; } = 0.2f;
    /// <summary>jumprelu: width ε of the rectangle kernel in the threshold's straight-through estimate (normalised input units, where a latent's pre-activation is of order 1).</summary>
    public float JumpReluBandwidth { get; init; } = 1f;
    /// <summary>jumprelu: every threshold's starting value (normalised input units).</summary>
    public float JumpReluInitialThreshold { get; init; } = 1f;
    /// <summary>geometric_median, mean or zeros.</summary>
    public string BDecInit { get; init; } = "geometric_median";
    /// <summary>Scale inputs so E‖x‖ = √d_in while training (folded into the weights on save).</summary>
    public bool NormalizeActivations { get; init; } = true;
    /// <summary>Batches read to estimate the input scale and b_dec before the first step.</summary>
    public int InitBatches { get; init; } = 4;
    public int LogEvery { get; init; } = 10;
    /// <summary>Besides the log-spaced schedule and the last step, checkpoint every this many steps.</summary>
    public int CheckpointEvery { get; init; } = 500;
    public int Seed { get; init; } = 1;

    // Where the activations come from (pinpoint sae train).
    public string Hook { get; init; } = "";
    public string[] Corpus { get; init; } = [];
    /// <summary>Tokens per harvested window.</summary>
    public int Context { get; init; } = 128;
    /// <summary>Activations held in the shuffled buffer (memory bound: BufferTokens · d_in floats).</summary>
    public int BufferTokens { get; init; } = 65536;
    /// <summary>Passes over each buffer fill before the next is harvested (harvesting costs more than a step on a small SAE).</summary>
    public int BufferReuse { get; init; } = 1;

    public SaeTrainingArchitecture ParsedArchitecture =>
        SaeArchitectureNames.ParseTraining(Architecture) ?? throw new ArgumentException($"invalid SAE config: unknown architecture '{Architecture}' (standard, topk, batchtopk, jumprelu)");

    public void Validate()
    {
        var arch = ParsedArchitecture;
        void Require(bool ok, string field, string problem) { if (!ok) throw new ArgumentException($"invalid SAE config: {field} {problem}"); }
        Require(DSae >= 1, "d_sae", $"must be positive, got {DSae}");
        Require(BatchSize >= 1, "batch_size", $"must be positive, got {BatchSize}");
        Require(Steps >= 1, "steps", $"must be positive, got {Steps}");
        Require(float.IsFinite(LearningRate) && LearningRate > 0, "learning_rate", $"must be positive, got {LearningRate}");
        Require(WarmupSteps >= 0, "warmup_steps", "must be ≥ 0");
        Require(DecayFraction is >= 0 and <= 1, "decay_fraction", "must be in [0, 1]");
        Require(SparsityWarmupFraction is >= 0 and <= 1, "sparsity_warmup_fraction", "must be in [0, 1]");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, "beta1/beta2", "must be in [0, 1)");
        Require(GradClip >= 0, "grad_clip", "must be ≥ 0 (0: off)");
        if (arch is SaeTrainingArchitecture.TopK or SaeTrainingArchitecture.BatchTopK)
            Require(K >= 1 && K <= DSae, "k", $"must be in [1, d_sae = {DSae}], got {K}");
        Require(L1Coefficient >= 0 && L0Coefficient >= 0 && AuxKCoefficient >= 0, "l1/l0/auxk coefficients", "must be ≥ 0");
        Require(AuxK >= 0, "aux_k", "must be ≥ 0");
        Require(DeadTokens >= 1, "dead_tokens", "must be positive");
        Require(ResampleEvery >= 0, "resample_every", "must be ≥ 0 (0: off)");
        Require(ResampleEncoderScale > 0, "resample_encoder_scale", "must be positive");
        Require(JumpReluBandwidth > 0 && JumpReluInitialThreshold > 0, "jump_relu_bandwidth/jump_relu_initial_threshold", "must be positive");
        Require(JumpReluSparsity is "tanh" or "step", "jump_relu_sparsity", $"must be tanh or step, got '{JumpReluSparsity}'");
        Require(JumpReluTanhScale > 0, "jump_relu_tanh_scale", "must be positive");
        Require(BDecInit is "geometric_median" or "mean" or "zeros", "b_dec_init", $"must be geometric_median, mean or zeros, got '{BDecInit}'");
        Require(InitBatches >= 1, "init_batches", "must be positive");
        Require(LogEvery >= 1, "log_every", "must be positive");
        Require(CheckpointEvery >= 0, "checkpoint_every", "must be ≥ 0");
        Require(Context >= 1, "context", "must be positive");
        Require(BufferTokens >= BatchSize, "buffer_tokens", $"must be at least batch_size ({BatchSize})");
        Require(BufferReuse >= 1, "buffer_reuse", "must be positive");
    }

    /// <summary>Learning rate at 1-based <paramref name="step"/>: linear warm-up, constant, linear decay to 0 at the end.</summary>
    public float LearningRateAt(int step)
    {
        double lr = LearningRate;
        if (WarmupSteps > 0 && step <= WarmupSteps) lr *= (double)step / WarmupSteps;
        double decaySteps = DecayFraction * Steps;
        double decayStart = Steps - decaySteps;
        if (decaySteps > 0 && step > decayStart) lr *= Math.Max(0, (Steps - step + 1) / (decaySteps + 1));
        return (float)lr;
    }

    /// <summary>The sparsity coefficient's warm-up factor at 1-based <paramref name="step"/>.</summary>
    public float SparsityRampAt(int step)
    {
        double rampSteps = SparsityWarmupFraction * Steps;
        return rampSteps <= 0 ? 1f : (float)Math.Min(1, step / rampSteps);
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static SaeTrainConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"SAE config not found: {path}", path);
        try
        {
            var config = JsonSerializer.Deserialize<SaeTrainConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty SAE config");
            return config;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid SAE config ({e.Message})");
        }
    }
}

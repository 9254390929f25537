using Pinpoint.Engine.Kernels;

namespace Pinpoint.Models.Transformer;

public enum NormKind { LayerNorm, RmsNorm }

public enum PositionKind { Learned, Rotary }

/// <summary>
/// The one configuration every architecture maps onto. Adapters fill it from their native config;
/// the hooked transformer reads nothing else.
/// </summary>
public sealed record TransformerConfig
{
    /// <summary>Architecture name as the adapter registers it (gpt2, llama, qwen2, gpt_neox, gemma).</summary>
    public required string Architecture { get; init; }
    public required int DModel { get; init; }
    public required int NLayers { get; init; }
    public required int NHeads { get; init; }
    public required int NKvHeads { get; init; }
    public required int DHead { get; init; }
    public required int DMlp { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }

    public NormKind Norm { get; init; } = NormKind.LayerNorm;
    public float NormEps { get; init; } = 1e-5f;
    /// <summary>Gemma scales by (1 + w) instead of w.</summary>
    public bool NormAddsOne { get; init; }

    public PositionKind Positions { get; init; } = PositionKind.Learned;
    /// <summary>How q/k dimensions are paired: HF rotate-half, or Meta/GGUF interleaved (adapters keep each file's layout).</summary>
    public RopeLayout RopeLayout { get; init; } = RopeLayout.Half;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Rotated dimensions per head (partial rotary in GPT-NeoX); equals DHead for full rotary.</summary>
    public int RotaryDim { get; init; }

    public Activation Activation { get; init; } = Activation.GeluTanh;
    /// <summary>Gated MLP (SwiGLU/GeGLU): hook_pre is the gate, hook_pre_linear the up projection.</summary>
    public bool GatedMlp { get; init; }
    /// <summary>GPT-NeoX/Pythia: attention and MLP both read resid_pre and are added together.</summary>
    public bool ParallelResidual { get; init; }
    /// <summary>Blocks without MLPs (and without ln2): resid_post = resid_pre + attn_out.</summary>
    public bool AttentionOnly { get; init; }
    /// <summary>Gemma multiplies embeddings by sqrt(d_model).</summary>
    public float EmbeddingScale { get; init; } = 1f;

    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    public bool AddBos { get; init; }

    public int QueriesPerKvHead => NHeads / NKvHeads;

    /// <summary>Throws when the sizes contradict each other.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new ModelConfigException($"{source}: {problem}");
        }
        Require(DModel > 0 && NLayers > 0 && NHeads > 0 && NKvHeads > 0 && DHead > 0 && (DMlp > 0 || AttentionOnly) && VocabSize > 0 && ContextLength > 0,
            $"sizes must be positive (d_model {DModel}, layers {NLayers}, heads {NHeads}, kv heads {NKvHeads}, d_head {DHead}, d_mlp {DMlp}, vocab {VocabSize}, context {ContextLength})");
        Require(NHeads % NKvHeads == 0, $"{NHeads} attention heads are not a multiple of {NKvHeads} key/value heads");
        Require(Positions != PositionKind.Rotary || (RotaryDim > 0 && RotaryDim <= DHead && RotaryDim % 2 == 0),
            $"rotary dimension {RotaryDim} must be even and within d_head {DHead}");
        Require(NormEps > 0 && float.IsFinite(NormEps), $"norm epsilon {NormEps} must be positive");
    }
}

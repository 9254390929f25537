using Pinpoint.Engine.Kernels;

namespace Pinpoint.Interpretability.Saes;

/// <summary>Where an SAE was trained: what SAELens keeps under cfg.json's "metadata".</summary>
public sealed record SaeMetadata
{
    public string HookName { get; init; } = "";
    public string ModelName { get; init; } = "";
    public int ContextSize { get; init; } = 128;
    public bool PrependBos { get; init; }
    public string DatasetPath { get; init; } = "";
    /// <summary>The layer SAEBench still reads as "hook_layer" (from "blocks.{l}." in the hook name; −1 when none).</summary>
    public int HookLayer => HookName.StartsWith("blocks.", StringComparison.Ordinal) && int.TryParse(HookName.AsSpan(7, Math.Max(0, HookName.IndexOf('.', 7) - 7)), out int l) ? l : -1;
}

/// <summary>
/// A sparse autoencoder in SAELens's convention: acts = σ((x − b_dec·[apply_b_dec_to_input])·W_enc + b_enc),
/// x̂ = acts·W_dec + b_dec. The encoder is held transposed ([d_sae, d_in], one row per feature, like the
/// decoder) so that training updates and per-feature reads touch contiguous rows; file formats convert.
/// </summary>
public sealed class Sae
{
    public int DIn { get; }
    public int DSae { get; }
    public SaeArchitecture Architecture { get; }
    /// <summary>Active features per token for <see cref="SaeArchitecture.TopK"/>; 0 otherwise.</summary>
    public int K { get; }
    public bool ApplyBDecToInput { get; }
    /// <summary>W_encᵀ, [d_sae, d_in].</summary>
    public float[] EncoderRows { get; }
    /// <summary>W_dec, [d_sae, d_in].</summary>
    public float[] Decoder { get; }
    public float[] BEnc { get; }
    public float[] BDec { get; }
    /// <summary>Per-feature JumpReLU threshold; null for the other architectures.</summary>
    public float[]? Threshold { get; }
    public SaeMetadata Metadata { get; init; } = new();

    public Sae(int dIn, int dSae, SaeArchitecture architecture, int k, bool applyBDecToInput,
        float[] encoderRows, float[] decoder, float[] bEnc, float[] bDec, float[]? threshold)
    {
        if (dIn < 1 || dSae < 1) throw new ArgumentException($"SAE sizes must be positive (d_in {dIn}, d_sae {dSae})");
        if (architecture == SaeArchitecture.TopK && (k < 1 || k > dSae))
            throw new ArgumentException($"a topk SAE needs 1 ≤ k ≤ d_sae ({dSae}), got k = {k}");
        Check(nameof(encoderRows), encoderRows, (long)dIn * dSae);
        Check(nameof(decoder), decoder, (long)dIn * dSae);
        Check(nameof(bEnc), bEnc, dSae);
        Check(nameof(bDec), bDec, dIn);
        if (architecture == SaeArchitecture.JumpRelu) Check(nameof(threshold), threshold ?? throw new ArgumentException("a jumprelu SAE needs a threshold"), dSae);
        DIn = dIn;
        DSae = dSae;
        Architecture = architecture;
        K = architecture == SaeArchitecture.TopK ? k : 0;
        ApplyBDecToInput = applyBDecToInput;
        EncoderRows = encoderRows;
        Decoder = decoder;
        BEnc = bEnc;
        BDec = bDec;
        Threshold = architecture == SaeArchitecture.JumpRelu ? threshold : null;
    }

    private static void Check(string name, float[] values, long expected)
    {
        if (values.Length != expected) throw new ArgumentException($"SAE {name} has {values.Length} values, expected {expected}");
    }

    public ReadOnlySpan<float> DecoderRow(int feature) => Decoder.AsSpan(feature * DIn, DIn);
    public ReadOnlySpan<float> EncoderRow(int feature) => EncoderRows.AsSpan(feature * DIn, DIn);

    /// <summary>Encoder pre-activations [rows, d_sae] of activations x [rows, d_in].</summary>
    public void PreActivations(ReadOnlySpan<float> x, int rows, Span<float> pre)
    {
        var input = x[..(rows * DIn)];
        float[]? shifted = null;
        if (ApplyBDecToInput)
        {
            shifted = new float[rows * DIn];
            for (int r = 0; r < rows; r++) TensorPrimitives.Subtract(input.Slice(r * DIn, DIn), BDec, shifted.AsSpan(r * DIn, DIn));
            input = shifted;
        }
        var output = pre[..(rows * DSae)];
        for (int r = 0; r < rows; r++) BEnc.CopyTo(output.Slice(r * DSae, DSae));
        Gemm.Multiply(rows, DSae, DIn, input, DIn, false, EncoderRows, DIn, true, output, DSae, beta: 1f);
    }

    /// <summary>Turns pre-activations [rows, d_sae] into feature activations in place.</summary>
    public void Activate(Span<float> pre, int rows)
    {
        var heap = Architecture == SaeArchitecture.TopK ? new float[K] : null;
        for (int r = 0; r < rows; r++)
        {
            var row = pre.Slice(r * DSae, DSae);
            switch (Architecture)
            {
                case SaeArchitecture.Standard:
                    TensorPrimitives.Max(row, 0f, row);
                    break;
                case SaeArchitecture.TopK:
                    LatentSelection.KeepTopK(row, K, heap);
                    break;
                case SaeArchitecture.JumpRelu:
                    for (int j = 0; j < row.Length; j++) if (!(row[j] > Threshold![j])) row[j] = 0f;
                    break;
            }
        }
    }

    /// <summary>Feature activations [rows, d_sae] of activations x [rows, d_in].</summary>
    public void Encode(ReadOnlySpan<float> x, int rows, Span<float> acts)
    {
        PreActivations(x, rows, acts);
        Activate(acts, rows);
    }

    /// <summary>Reconstructions x̂ [rows, d_in] of feature activations [rows, d_sae].</summary>
    public void Decode(ReadOnlySpan<float> acts, int rows, Span<float> reconstruction)
    {
        var output = reconstruction[..(rows * DIn)];
        for (int r = 0; r < rows; r++) BDec.CopyTo(output.Slice(r * DIn, DIn));
        Gemm.Multiply(rows, DIn, DSae, acts, DSae, false, Decoder, DIn, false, output, DIn, beta: 1f);
    }

    /// <summary>The first index of a non-finite parameter value and which parameter holds it, or null.</summary>
    public (string Field, int Index)? FirstNonFinite()
    {
        foreach (var (name, values) in new[] { ("W_enc", EncoderRows), ("W_dec", Decoder), ("b_enc", BEnc), ("b_dec", BDec), ("threshold", Threshold ?? []) })
        {
            for (int j = 0; j < values.Length; j++) if (!float.IsFinite(values[j])) return (name, j);
        }
        return null;
    }
}

namespace Pinpoint.Engine.Kernels;

/// <summary>Which dimensions of a head are rotated together.</summary>
public enum RopeLayout
{
    /// <summary>Pairs (i, i + rotaryDim/2): Hugging Face "rotate_half" (Llama, GPT-NeoX/Pythia checkpoints).</summary>
    Half,

    /// <summary>Pairs (2i, 2i + 1): original Meta and GGUF layout.</summary>
    Interleaved,
}

/// <summary>
/// Precomputed rotary cos/sin for positions [0, <see cref="MaxPositions"/>), built once and shared by every call.
/// Per position it stores full-width rows C and S laid out for <see cref="Layout"/> so that the rotation is
/// y[j] = x[j]·C[j] + x[partner(j)]·S[j], with S carrying the sign (−sin on a pair's first element, +sin on its second).
/// Pair i turns by position · theta^(−2i/rotaryDim); angles are computed in double precision.
/// </summary>
public sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;

    public int MaxPositions { get; }
    public int RotaryDim { get; }
    public double Theta { get; }
    public RopeLayout Layout { get; }

    public RopeTable(int maxPositions, int rotaryDim, double theta = 10000, RopeLayout layout = RopeLayout.Half)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPositions);
        if (rotaryDim <= 0 || rotaryDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(rotaryDim), $"rotary dimension must be positive and even, got {rotaryDim}");
        if (!(theta > 1)) throw new ArgumentOutOfRangeException(nameof(theta), $"theta must exceed 1, got {theta}");
        MaxPositions = maxPositions;
        RotaryDim = rotaryDim;
        Theta = theta;
        Layout = layout;
        _cos = new float[checked(maxPositions * rotaryDim)];
        _sin = new float[_cos.Length];
        int half = rotaryDim / 2;
        for (int p = 0; p < maxPositions; p++)
        {
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(theta, -2.0 * i / rotaryDim);
                float c = (float)Math.Cos(angle), s = (float)Math.Sin(angle);
                int first = p * rotaryDim + (layout == RopeLayout.Half ? i : 2 * i);
                int second = first + (layout == RopeLayout.Half ? half : 1);
                _cos[first] = _cos[second] = c;
                _sin[first] = -s;
                _sin[second] = s;
            }
        }
    }

    internal ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * RotaryDim, RotaryDim);

    internal ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * RotaryDim, RotaryDim);
}

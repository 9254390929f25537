using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Steering;

/// <summary>
/// Which token positions a steering vector is added at: <c>Start</c> to <c>End</c> (exclusive; null: to the end of
/// the sequence), counted in each sequence as the model sees it (padding skipped, KV-cached tokens counted).
/// </summary>
public sealed record TokenPositions(int Start, int? End)
{
    public static TokenPositions All { get; } = new(0, null);

    public bool Contains(int position) => position >= Start && (End is null || position < End);

    /// <summary><c>all</c>, <c>P</c> (that position only), <c>A:B</c> (A up to B exclusive) or <c>A:</c> (A onwards).</summary>
    public static TokenPositions Parse(string text)
    {
        if (text == "all") return All;
        int colon = text.IndexOf(':');
        if (colon < 0) return int.TryParse(text, out int p) && p >= 0 ? new(p, p + 1) : throw Bad();
        if (!int.TryParse(text[..colon], out int start) || start < 0) throw Bad();
        var end = text[(colon + 1)..];
        if (end.Length == 0) return new(start, null);
        return int.TryParse(end, out int e) && e > start ? new(start, e) : throw Bad();

        FormatException Bad() => new($"positions '{text}' are not all, P, A:B (A < B) or A: with non-negative integers");
    }

    public override string ToString() => End is null ? (Start == 0 ? "all" : $"{Start}:") : End == Start + 1 ? $"{Start}" : $"{Start}:{End}";
}

/// <summary>
/// A steering vector: <see cref="Coefficient"/> × <see cref="Vector"/> added to the activation at <see cref="Hook"/> for
/// every token at <see cref="Positions"/>, in every forward pass of the model it is attached to
/// (<see cref="HookedTransformer.Interventions"/>). The addition is an op of the pass's compute context, so gradients
/// flow through it; a KV-cached step adds it at exactly the positions a full recompute would.
/// </summary>
public sealed record SteeringVector(string Hook, float[] Vector, float Coefficient, TokenPositions Positions) : IHookIntervention
{
    public SteeringVector WithCoefficient(float coefficient) => this with { Coefficient = coefficient };

    public double Norm => Math.Sqrt(Vector.Sum(v => (double)v * v));

    public void Register(HookSet hooks, TransformerConfig config)
    {
        CheckFits(Hook, Vector.Length, config);
        if (Coefficient == 0) return;
        hooks.Add(Hook, (activation, _) =>
        {
            var positions = hooks.Positions;
            int width = Vector.Length, rows = activation.Size / width;
            if (rows != positions.Count)
                throw new ArgumentException($"steering at {Hook}: the activation {activation.Describe()} is not one row of {width} values per token");
            var delta = Tensor.Zeros(activation.Shape.ToArray());
            var d = delta.Span;
            for (int row = 0; row < rows; row++)
            {
                if (!Positions.Contains(positions[row])) continue;
                var target = d.Slice(row * width, width);
                for (int i = 0; i < width; i++) target[i] = Coefficient * Vector[i];
            }
            return hooks.Compute.Add(activation, delta);
        });
    }

    /// <summary>Throws unless <paramref name="hook"/> is a per-token hook of this model with <paramref name="size"/> values per token.</summary>
    public static void CheckFits(string hook, int size, TransformerConfig config)
    {
        int width = HookWidth(hook, config)
            ?? throw new ArgumentException($"cannot steer at '{hook}': it is not a per-token hook of this model (use a name such as {HookNames.ResidPre(0)}, {HookNames.AttnOut(0)}, {HookNames.MlpOut(0)}, {HookNames.Z(0)})");
        if (size != width)
            throw new ArgumentException($"the vector has {size} values but {hook} has {width} per token");
    }

    /// <summary>Values per token at a hook (heads flattened), or null for hooks that are not per token (attention patterns, norm scales) or unknown.</summary>
    public static int? HookWidth(string hook, TransformerConfig config)
    {
        if (!HookNames.All(config).Contains(hook, StringComparer.Ordinal)) return null;
        string tail = hook[(hook.LastIndexOf('.') + 1)..];
        return tail switch
        {
            "hook_embed" or "hook_pos_embed" or "hook_resid_pre" or "hook_resid_mid" or "hook_resid_post" or "hook_attn_out" or "hook_mlp_out" or "hook_normalized" => config.DModel,
            "hook_q" or "hook_z" or "hook_rot_q" => config.NHeads * config.DHead,
            "hook_k" or "hook_v" or "hook_rot_k" => config.NKvHeads * config.DHead,
            "hook_pre" or "hook_pre_linear" or "hook_post" => config.DMlp,
            _ => null,
        };
    }
}

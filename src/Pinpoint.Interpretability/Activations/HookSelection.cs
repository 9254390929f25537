using System.Text.RegularExpressions;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Activations;

/// <summary>
/// Resolves hook patterns (comma-separated TransformerLens names with <c>*</c> wildcards, e.g.
/// <c>blocks.*.hook_resid_post,hook_embed</c>) against a model's hook points, in forward order.
/// </summary>
public static class HookSelection
{
    /// <summary>Hooks whose activations are not laid out [batch, position, ...] and so cannot be read per token.</summary>
    public static bool IsPerToken(string hookName) =>
        !hookName.EndsWith(".hook_pattern", StringComparison.Ordinal) && !hookName.EndsWith(".hook_attn_scores", StringComparison.Ordinal);

    /// <summary>
    /// The model's per-token hooks matching <paramref name="patterns"/>; a pattern that matches none is an error
    /// listing the valid names.
    /// </summary>
    public static IReadOnlyList<string> Resolve(HookedTransformer model, string patterns)
    {
        var valid = model.HookNamesInOrder().Where(IsPerToken).ToList();
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in patterns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var regex = new Regex("^" + Regex.Escape(raw).Replace("\\*", ".*") + "$", RegexOptions.CultureInvariant);
            var matches = valid.Where(h => regex.IsMatch(h)).ToList();
            if (matches.Count == 0)
                throw new ArgumentException($"hook pattern '{raw}' matches no per-token hook of this model (valid: {string.Join(", ", Abbreviated(valid))})");
            chosen.UnionWith(matches);
        }
        if (chosen.Count == 0) throw new ArgumentException("no hook pattern given");
        return valid.Where(chosen.Contains).ToList();
    }

    /// <summary>The residual stream read by probes: the embedding plus every block's output.</summary>
    public static IReadOnlyList<string> ResidualStream(TransformerConfig config) =>
        [HookNames.Embed, .. Enumerable.Range(0, config.NLayers).Select(HookNames.ResidPost)];

    /// <summary>Layer-0 names in full and the rest as <c>blocks.*.</c> patterns, so the list stays one line.</summary>
    private static IEnumerable<string> Abbreviated(IReadOnlyList<string> valid) =>
        valid.Select(h => h.StartsWith("blocks.", StringComparison.Ordinal) ? "blocks.*." + h[(h.IndexOf('.', 7) + 1)..] : h).Distinct();
}

using Pinpoint.Interpretability.Activations;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>A unit's activation at one token.</summary>
public sealed record UnitHit(int Unit, double Activation, int Position, string Token);

/// <summary>The units that fire most at one token.</summary>
public sealed record TokenHits(int Position, string Token, IReadOnlyList<UnitHit> Units);

/// <summary>At one hook: the units with the largest activation anywhere in the searched tokens (each at its strongest token), and the strongest units per token.</summary>
public sealed record HookHits(string Hook, string Kind, IReadOnlyList<UnitHit> Top, IReadOnlyList<TokenHits> PerToken);

/// <summary>Which units fire on a text, read from the model directly (no dashboard store needed).</summary>
/// <param name="Position">The one token searched, when the search was limited to it.</param>
public sealed record UnitSearchResult(string Text, IReadOnlyList<string> Tokens, int? Position, IReadOnlyList<HookHits> Hooks);

public static class UnitSearch
{
    /// <param name="position">Search only this token (0-based, negative counts from the end); all tokens when null.</param>
    public static UnitSearchResult Run(LoadedModel model, IReadOnlyList<DashboardUnits> units, string text, int top, int? position = null)
    {
        if (top < 1) throw new ArgumentException($"top {top}: list at least one unit");
        var sequence = HarvestSources.Texts(model, [text]).Single();
        int length = sequence.Ids.Length;
        int? only = position is { } p ? (p < 0 ? length + p : p) : null;
        if (only is { } o && (o < 0 || o >= length))
            throw new ArgumentException($"token position {position} is outside the text's {length} tokens");
        var tokens = sequence.Ids.Select(model.Tokenizer.TokenText).ToList();
        var hooks = units.Select(u => u.Hook).Distinct().ToList();
        var batch = new ActivationHarvester(model.Model, hooks, HarvestPositions.Every, batchSize: 1).Harvest([sequence]);
        var results = new List<HookHits>();
        foreach (var u in units)
        {
            var values = u.Activations(batch.Values(hooks.IndexOf(u.Hook)), batch.Rows).ToArray();
            var positions = only is { } at ? [at] : Enumerable.Range(0, length).ToArray();
            UnitHit Hit(int unit, int pos) => new(unit, values[pos * u.Count + unit], pos, tokens[pos]);
            var strongest = Enumerable.Range(0, u.Count)
                .Select(unit => positions.Select(pos => Hit(unit, pos)).MaxBy(h => h.Activation)!)
                .OrderByDescending(h => h.Activation).ThenBy(h => h.Unit).Take(top).ToList();
            var perToken = positions.Select(pos => new TokenHits(pos, tokens[pos],
                Enumerable.Range(0, u.Count).Select(unit => Hit(unit, pos)).OrderByDescending(h => h.Activation).ThenBy(h => h.Unit).Take(top).ToList())).ToList();
            results.Add(new HookHits(u.Hook, u.Kind == DashboardUnitKind.Neuron ? "neuron" : "feature", strongest, perToken));
        }
        return new UnitSearchResult(text, tokens, only, results);
    }
}

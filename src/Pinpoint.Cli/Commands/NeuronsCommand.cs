using Pinpoint.Interpretability.Activations;
using Pinpoint.Interpretability.Dashboards;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint neurons</c>: neuron dashboards from one pass over a corpus.</summary>
public sealed class NeuronsCommand : Command
{
    internal static readonly CliOption Hooks = new("hooks", "PATTERN", "MLP neuron hooks, comma-separated with * wildcards (default blocks.*.mlp.hook_post)");

    public override string Name => "neurons";
    public override string Summary => "neuron dashboards in one corpus pass: top contexts, interval samples, histogram, density, logit effect; JSON + HTML";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, Hooks, .. DashboardCommandParts.BuildOptions];
    public override Type ResultType => typeof(DashboardRunSummary);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        using var model = ModelOptions.Open(args, output);
        return DashboardCommandParts.Build(args, output, model, Units(args, model.Model));
    }

    internal static List<DashboardUnits> Units(CliArgs args, Models.Transformer.HookedTransformer model) =>
        HookSelection.Resolve(model, args.String(Hooks) ?? "blocks.*.mlp.hook_post").Select(h => DashboardUnits.Neurons(model, h)).ToList();
}

/// <summary><c>pinpoint neurons search</c>: which neurons fire on a text.</summary>
public sealed class NeuronsSearchCommand : Command
{
    public override string Name => "neurons search";
    public override string Summary => "which MLP neurons fire on a text (or one of its tokens), read from the model";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, NeuronsCommand.Hooks, .. DashboardCommandParts.SearchOptions];
    public override Type ResultType => typeof(UnitSearchResult);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        using var model = ModelOptions.Open(args, output);
        return DashboardCommandParts.Search(args, output, model, NeuronsCommand.Units(args, model.Model));
    }
}

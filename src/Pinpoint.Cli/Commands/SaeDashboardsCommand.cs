using Pinpoint.Interpretability.Dashboards;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint sae dashboards</c>: feature dashboards of an SAE from one pass over a corpus.</summary>
public sealed class SaeDashboardsCommand : Command
{
    public override string Name => "sae dashboards";
    public override string Summary => "SAE feature dashboards in one corpus pass: top contexts, interval samples, histogram, density, W_dec·W_U logit effect; JSON + HTML";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, DashboardCommandParts.Sae, .. DashboardCommandParts.BuildOptions];
    public override Type ResultType => typeof(DashboardRunSummary);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        using var model = ModelOptions.Open(args, output);
        var (sae, path) = DashboardCommandParts.OpenSae(args, model);
        return DashboardCommandParts.Build(args, output, model, [DashboardUnits.Features(sae, path)]);
    }
}

/// <summary><c>pinpoint sae search</c>: which SAE features fire on a text.</summary>
public sealed class SaeSearchCommand : Command
{
    public override string Name => "sae search";
    public override string Summary => "which SAE features fire on a text (or one of its tokens), read from the model";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, DashboardCommandParts.Sae, .. DashboardCommandParts.SearchOptions];
    public override Type ResultType => typeof(UnitSearchResult);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        using var model = ModelOptions.Open(args, output);
        var (sae, path) = DashboardCommandParts.OpenSae(args, model);
        return DashboardCommandParts.Search(args, output, model, [DashboardUnits.Features(sae, path)]);
    }
}

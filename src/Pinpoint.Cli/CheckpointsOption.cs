namespace Pinpoint.Cli;

/// <summary><c>--checkpoints DIR</c> of probe and concepts: run the analysis on every checkpoint of a training run instead of one model.</summary>
public static class CheckpointsOption
{
    public static readonly CliOption Option = new("checkpoints", "DIR",
        "a 'pinpoint train' run (or its checkpoints/ folder): analyse every complete checkpoint and report each number per step (instead of --model)");

    /// <summary>The run folder, or null when the option is absent; refuses it beside --model.</summary>
    public static string? Run(CliArgs args)
    {
        var run = args.String(Option);
        if (run is not null && args.String(ModelOptions.Model) is not null)
            throw new CliException("--checkpoints and --model exclude each other: the checkpoints are the models analysed");
        return run;
    }
}

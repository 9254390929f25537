namespace Pinpoint.Cli;

/// <summary>One <c>pinpoint</c> subcommand: its name, a one-line summary, its options and what it does.</summary>
/// <remarks><c>--json</c> and <c>--help</c> are added to every command by <see cref="CliApp"/>.</remarks>
public abstract class Command
{
    public abstract string Name { get; }
    public abstract string Summary { get; }
    public abstract IReadOnlyList<CliOption> Options { get; }

    /// <summary>The record written with <c>--json</c>; its shape is shown in the command's help.</summary>
    public abstract Type ResultType { get; }

    /// <summary>Other shapes <c>--json</c> writes, each with the option that selects it (e.g. explain --dataset).</summary>
    public virtual IReadOnlyList<(string Option, Type Type)> OtherResultTypes => [];

    /// <summary>Runs the command and returns its exit code. Throws <see cref="CliException"/> for usage errors.</summary>
    public abstract int Execute(CliArgs args, CommandOutput output);
}

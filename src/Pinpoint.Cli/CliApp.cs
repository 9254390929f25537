using System.Text;
using Pinpoint.Cli.Commands;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli;

/// <summary>
/// Command dispatch for the <c>pinpoint</c> tool. Exit codes: 0 success, 1 bad input (a missing or malformed
/// file, ids outside the vocabulary, ...), 2 usage errors. Errors go to stderr as one line, never a stack trace,
/// so with <c>--json</c> stdout stays empty or holds exactly one JSON object.
/// </summary>
public static class CliApp
{
    private static readonly Command[] Commands =
        [new ExplainCommand(), new InfoCommand(), new RunCommand(), new GenerateCommand(), new ScoreCommand(), new TrainCommand(), new ExportCommand(), new SteerCommand(), new TraceCommand(), new EditCommand(), new SelfCheckCommand()];

    private static readonly CliOption Json = new("json", null, "print one JSON object on stdout instead of tables");
    private static readonly CliOption Help = new("help", null, "show this command's options", 'h');

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Count == 0)
        {
            stderr.Write(Usage());
            return 2;
        }
        if (args[0] is "-h" or "--help" or "help")
        {
            stdout.Write(Usage());
            return 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"pinpoint: unknown command '{args[0]}'");
            stderr.Write(Usage());
            return 2;
        }
        try
        {
            var options = command.Options.Append(Json).Append(Help).ToList();
            var parsed = new CliArgs(args.Skip(1), options);
            if (parsed.Flag(Help))
            {
                stdout.Write(CommandHelp(command, options));
                return 0;
            }
            return command.Execute(parsed, new CommandOutput(stdout, parsed.Flag(Json)));
        }
        catch (CliException e)
        {
            stderr.WriteLine($"pinpoint {command.Name}: {e.Message}");
            stderr.WriteLine($"see 'pinpoint {command.Name} --help'");
            return 2;
        }
        catch (Exception e) when (IsBadInput(e))
        {
            stderr.WriteLine($"pinpoint: {e.Message}");
            return 1;
        }
    }

    /// <summary>Errors caused by what the user passed (files, ids, settings), as opposed to bugs.</summary>
    private static bool IsBadInput(Exception e) =>
        e is IOException or ModelFormatException or ModelConfigException or ArgumentException or InvalidDataException or NotSupportedException;

    private static string Usage()
    {
        var text = new StringBuilder("usage: pinpoint <command> [options]\n\ncommands:\n");
        int width = Commands.Max(c => c.Name.Length);
        foreach (var c in Commands) text.Append($"  {c.Name.PadRight(width)}  {c.Summary}\n");
        text.Append("\nrun 'pinpoint <command> --help' for a command's options\n");
        return text.ToString();
    }

    private static string CommandHelp(Command command, IReadOnlyList<CliOption> options)
    {
        var text = new StringBuilder($"usage: pinpoint {command.Name} [options]\n{command.Summary}\n\noptions:\n");
        int width = options.Max(o => o.Usage.Length);
        foreach (var o in options) text.Append($"  {o.Usage.PadRight(width)}  {o.Description}\n");
        text.Append($"\nwith --json, stdout holds one object (a field marked ? is left out when it has no value):\n  {CommandOutput.JsonShape(command.ResultType)}\n");
        foreach (var (option, type) in command.OtherResultTypes)
            text.Append($"\nwith --json and {option}:\n  {CommandOutput.JsonShape(type)}\n");
        return text.ToString();
    }
}

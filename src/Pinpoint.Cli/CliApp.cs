using System.Reflection;
using System.Text;
using Pinpoint.Cli.Commands;
using Pinpoint.Engine.Kernels;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli;

/// <summary>
/// Command dispatch for the <c>pinpoint</c> tool. Exit codes: 0 success, 1 bad input (a missing or malformed
/// file, ids outside the vocabulary, ...) or any other failure, 2 usage errors. Every error reaches stderr as exactly
/// one line naming the command and what failed, never a stack trace (unless <c>--verbose</c> or
/// <c>PINPOINT_DEBUG=1</c> asks for it), so with <c>--json</c> stdout stays empty or holds exactly one JSON object.
/// </summary>
public static class CliApp
{
    /// <summary>Every command, in the order the usage text lists them.</summary>
    public static IReadOnlyList<Command> Commands { get; } =
    [
        new ExplainCommand(),
        new CircuitCommand(),
        new InfoCommand(),
        new RunCommand(),
        new GenerateCommand(),
        new ScoreCommand(),
        new ContrastsCommand(),
        new ProbeCommand(),
        new ConceptsCommand(),
        new NeuronsCommand(),
        new NeuronsSearchCommand(),
        new LensCommand(),
        new LensTrainCommand(),
        new SaeTrainCommand(),
        new SaeEvalCommand(),
        new SaeDashboardsCommand(),
        new SaeSearchCommand(),
        new SteerCommand(),
        new TraceCommand(),
        new EditCommand(),
        new DynamicsCommand(),
        new TrainCommand(),
        new ExportCommand(),
        new QuantizeCommand(),
        new ServeCommand(),
        new SelfCheckCommand(),
    ];

    private static readonly CliOption Json = new("json", null, "print one JSON object on stdout instead of tables");
    private static readonly CliOption Verbose = new("verbose", null, "on an error, also print its stack trace (as does PINPOINT_DEBUG=1)");
    private static readonly CliOption Help = new("help", null, "show this command's options", 'h');

    /// <summary>Options every command accepts besides its own.</summary>
    public static IReadOnlyList<CliOption> CommonOptions { get; } = [Json, Verbose, Help];

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    /// <param name="environment">Reads an environment variable (PINPOINT_KERNEL, PINPOINT_DEBUG); the process environment by default.</param>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, string?>? environment = null) =>
        Run(args, stdout, stderr, environment ?? Environment.GetEnvironmentVariable, Commands);

    /// <summary>Dispatch over <paramref name="commands"/> (tests add commands that fail in ways no real one should).</summary>
    internal static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, IReadOnlyList<Command> commands)
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
        // Two-word commands ("sae train") are matched before one-word ones.
        var command = args.Count >= 2 ? commands.FirstOrDefault(c => c.Name == $"{args[0]} {args[1]}") : null;
        int consumed = command is null ? 1 : 2;
        command ??= commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"pinpoint: unknown command '{args[0]}' (commands: {string.Join(", ", commands.Select(c => c.Name))})");
            return 2;
        }
        // Read from the raw arguments so a stack is available even when parsing them is what failed.
        bool verbose = args.Contains("--" + Verbose.Name) || environment("PINPOINT_DEBUG") is "1" or "true";
        try
        {
            KernelPaths.CheckRequest(environment(KernelPaths.EnvironmentVariable));
            QuantizedPrefill.CheckRequest(environment(QuantizedPrefill.EnvironmentVariable));
            GgufReader.ResidentWeights(environment(GgufReader.WeightsVariable));
            var options = command.Options.Concat(CommonOptions).ToList();
            var parsed = new CliArgs(args.Skip(consumed), options);
            if (parsed.Flag(Help))
            {
                stdout.Write(CommandHelp(command, options));
                return 0;
            }
            return command.Execute(parsed, new CommandOutput(stdout, parsed.Flag(Json), stderr));
        }
        catch (CliException e)
        {
            Report(stderr, command, $"{OneLine(e.Message)} (see 'pinpoint {command.Name} --help')", verbose ? e : null);
            return 2;
        }
        catch (Exception e)
        {
            var cause = Unwrap(e);
            var line = IsBadInput(cause)
                ? OneLine(cause.Message)
                : $"internal error ({cause.GetType().Name}): {OneLine(cause.Message)}{(verbose ? "" : "; rerun with --verbose for the stack trace")}";
            Report(stderr, command, line, verbose ? e : null);
            return 1;
        }
    }

    private static void Report(TextWriter stderr, Command command, string line, Exception? withStack)
    {
        stderr.WriteLine($"pinpoint {command.Name}: {line}");
        if (withStack is not null) stderr.WriteLine(withStack);
    }

    /// <summary>The exception that says what went wrong, not the wrapper a type initializer or reflection put around it.</summary>
    private static Exception Unwrap(Exception e) => e switch
    {
        TypeInitializationException or TargetInvocationException when e.InnerException is not null => Unwrap(e.InnerException),
        AggregateException { InnerExceptions.Count: 1 } a => Unwrap(a.InnerExceptions[0]),
        _ => e,
    };

    /// <summary>A message on one line: .NET appends "Actual value was …" and the like on lines of their own.</summary>
    private static string OneLine(string message) =>
        string.Join(" ", message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Errors caused by what the user passed (files, ids, settings), as opposed to bugs.</summary>
    public static bool IsBadInput(Exception e) =>
        e is IOException or UnauthorizedAccessException or ModelFormatException or ModelConfigException or ArgumentException
            or InvalidDataException or NotSupportedException or System.Text.Json.JsonException or Pinpoint.Training.TrainingStoppedException;

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
        text.Append($"\nwith --json, stdout holds one object (a field marked ? is left out when it has no value; a number is null where it is undefined):\n  {CommandOutput.JsonShape(command.ResultType)}\n");
        foreach (var (option, type) in command.OtherResultTypes)
            text.Append($"\nwith --json and {option}:\n  {CommandOutput.JsonShape(type)}\n");
        return text.ToString();
    }
}

using Pinpoint.Engine.Kernels;

namespace Pinpoint.Cli;

/// <summary>Command dispatch for the <c>pinpoint</c> tool.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: pinpoint <command> [options]\ncommands: selfcheck");
            return args.Length == 0 ? 1 : 0;
        }
        switch (args[0])
        {
            case "selfcheck":
                Console.WriteLine($"kernel path: {KernelPaths.Best}");
                return 0;
            default:
                Console.Error.WriteLine($"pinpoint: unknown command '{args[0]}'");
                return 2;
        }
    }
}

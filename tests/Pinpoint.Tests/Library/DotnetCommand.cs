using System.Diagnostics;

namespace Pinpoint.Tests.Library;

/// <summary>
/// Tests that run the dotnet CLI on the repository's own projects. They share build outputs (src/*/bin/Release), so
/// they run one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DotnetCommand
{
    public const string Name = "dotnet CLI on the repository";

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/> in <paramref name="directory"/>; returns exit code and both outputs.</summary>
    public static (int Code, string Out, string Err) Run(string fileName, string directory, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        // Keep the child's MSBuild from joining this test run's build server and telemetry.
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}

using System.Text.Json;

namespace Pinpoint.Tests.Library;

/// <summary>
/// The CLI as a dotnet tool: packed into a temporary folder, installed from there (no other package source) into a
/// temporary tool path, and run from an unrelated directory with the model it carries.
/// </summary>
[Collection(DotnetCommand.Name)]
public class DotnetToolTests
{
    [Fact]
    public void PackedToolInstallsAndExplainsWithItsEmbeddedModel()
    {
        var root = Path.Combine(Path.GetTempPath(), "pinpoint-tool-" + Guid.NewGuid().ToString("N"));
        var packages = Path.Combine(root, "packages");
        var tools = Path.Combine(root, "tools");
        var elsewhere = Directory.CreateDirectory(Path.Combine(root, "elsewhere")).FullName;
        try
        {
            var cli = Path.Combine(SharedData.RepoRoot, "src", "Pinpoint.Cli", "Pinpoint.Cli.csproj");
            Succeeds(DotnetCommand.Run("dotnet", SharedData.RepoRoot, ["pack", cli, "-c", "Release", "-o", packages]), "dotnet pack");
            var package = Assert.Single(Directory.GetFiles(packages, "Pinpoint.Cli.*.nupkg"));
            var config = Path.Combine(root, "nuget.config");
            File.WriteAllText(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="packed" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            Succeeds(DotnetCommand.Run("dotnet", elsewhere, ["tool", "install", "Pinpoint.Cli", "--tool-path", tools, "--configfile", config]), "dotnet tool install");

            var pinpoint = Path.Combine(tools, "pinpoint");
            var info = Succeeds(DotnetCommand.Run(pinpoint, elsewhere, ["info", "--json"]), "pinpoint info --json");
            // The model is the one the tool carries, inside the tool path.
            var modelPath = JsonDocument.Parse(info).RootElement.GetProperty("path").GetString()!;
            Assert.StartsWith(tools, modelPath);
            Assert.EndsWith(Path.Combine("models", "default"), modelPath);
            var explain = Succeeds(DotnetCommand.Run(pinpoint, elsewhere, ["explain", "--json", "--ig-steps", "1", "--top", "3"]), "pinpoint explain --json");
            var report = JsonDocument.Parse(explain).RootElement;
            Assert.True(report.GetProperty("logit_diff").GetDouble() > 0, Path.GetFileName(package));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string Succeeds((int Code, string Out, string Err) run, string what)
    {
        Assert.True(run.Code == 0, $"{what} exited with {run.Code}:\n{run.Out}\n{run.Err}");
        return run.Out;
    }
}

using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Microsoft.Extensions.Hosting;
using Pinpoint.Web;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint serve</c>: the local web app (pages and JSON API) on 127.0.0.1, guarded by a token.</summary>
public sealed class ServeCommand : Command
{
    private static readonly CliOption Port = new("port", "P", $"TCP port (default {ServeOptions.DefaultPort}; 0 picks a free one)");
    private static readonly CliOption Host = new("host", "ADDR", $"address to listen on (default {ServeOptions.DefaultHost}; any other address is reachable from other machines)");
    private static readonly CliOption Token = new("token", "T", "the token every request needs (default: a new random one each run)");
    private static readonly CliOption Models = new("models", "DIR", "a further folder whose models and training runs may be opened (repeatable; the repository's models/ is always served)", Repeatable: true);

    public override string Name => "serve";
    public override string Summary => "a local web app: prompt, attention, logit lens, interactive explain, ablation, training runs";
    public override IReadOnlyList<CliOption> Options { get; } = [Port, Host, Token, Models];
    public override Type ResultType => typeof(Result);

    /// <param name="Url">Where to open the app, with its token.</param>
    public sealed record Result(string Url, string[] Roots);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var token = args.String(Token) ?? ServeOptions.NewToken();
        if (token.Length < 8) throw new CliException("--token must be at least 8 characters");
        var options = new ServeOptions(args.String(Host) ?? ServeOptions.DefaultHost, args.Int(Port, ServeOptions.DefaultPort, min: 0, max: 65535), token,
            [DefaultRoot(), .. args.Strings(Models)]);
        var commands = new CliCommandResults();
        using var app = WebServer.Build(options, commands);
        app.StartAsync().GetAwaiter().GetResult();
        _ = WebServer.WarmUp(app, commands);
        var result = new Result(WebServer.PrintedUrl(app, options), [.. options.Roots.Select(Path.GetFullPath)]);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine($"pinpoint serve: open {result.Url}\n(serving models from {string.Join(", ", result.Roots)}; Ctrl+C stops)");
        output.Text.Flush();
        app.WaitForShutdownAsync().GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>The repository's models/ folder when running from a checkout, else the one beside the executable.</summary>
    private static string DefaultRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pinpoint.slnx")) && Directory.Exists(Path.Combine(dir.FullName, "models")))
                return Path.Combine(dir.FullName, "models");
        return Path.GetDirectoryName(ModelOptions.DefaultModelPath)!;
    }
}

/// <summary>The web API's view of the CLI commands: the same result records and serializer as <c>--json</c>.</summary>
public sealed class CliCommandResults : ICommandResults
{
    public bool IsBadInput(Exception e) => CliApp.IsBadInput(e);

    public CommandResultTypes Types { get; } = new(typeof(InfoCommand.Result), typeof(RunCommand.Result), typeof(GenerateCommand.Result));

    public object Info(LoadedModel model) => InfoCommand.Describe(model);

    public object Run(LoadedModel model, string prompt, int top) => RunCommand.Predict(model, model.Encode(prompt), top, withLogits: false);

    public object Generate(LoadedModel model, string prompt, int maxNewTokens, SamplingOptions sampling) =>
        GenerateCommand.Continue(model, prompt, maxNewTokens, sampling);
}

using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Inspect;
using Pinpoint.Interpretability.Lens;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Training;

namespace Pinpoint.Web;

/// <summary>What a training run's page shows: its metrics.jsonl and its checkpoints (model names to explain at).</summary>
public sealed record RunMetricsResult(string Run, MetricsRecord[] Metrics, string[] Checkpoints);

/// <summary>What the models page lists.</summary>
public sealed record CatalogResult(string[] Roots, string DefaultModel, CatalogEntry[] Models, CatalogEntry[] Runs);

/// <summary>
/// <c>pinpoint serve</c>: the pages (embedded in this assembly) and the JSON API behind them. Every endpoint answers
/// what the matching CLI command prints with <c>--json</c>; the OpenAPI document at /openapi/v1.json describes them.
/// Pages for later analyses (features, steering, editing) add an endpoint group here and a module under wwwroot/js/pages.
/// </summary>
public static class WebServer
{
    /// <param name="configure">Changes to the host before it is built (tests put a TestServer in place of Kestrel).</param>
    public static WebApplication Build(ServeOptions options, ICommandResults commands, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(Url(options.Host, options.Port));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = ServeOptions.MaxRequestBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            k.AddServerHeader = false;
        });
        builder.Services.ConfigureHttpJsonOptions(o => CopyJson(ReportJson.Options, o.SerializerOptions));
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetConcurrencyLimiter("all",
                _ => new ConcurrencyLimiterOptions { PermitLimit = ServeOptions.MaxConcurrentRequests, QueueLimit = ServeOptions.MaxQueuedRequests }));
            limiter.OnRejected = (ctx, _) => new ValueTask(ApiErrors.Write(ctx.HttpContext, StatusCodes.Status503ServiceUnavailable, "too many requests at once; try again"));
        });
        builder.Services.AddSingleton(new ModelCatalog(options.Roots, options.DefaultModel));
        builder.Services.AddSingleton<Jobs>();
        configure?.Invoke(builder);

        var app = builder.Build();
        var security = new Security(options);
        app.Use((context, next) => ApiErrors.Handle(context, next, commands));
        app.Use(security.Invoke);
        app.UseRateLimiter();
        app.MapOpenApi("/openapi/{documentName}.json");
        MapApi(app.MapGroup("/api"), commands);
        MapAssets(app);
        return app;
    }

    /// <summary>
    /// Loads the default model and runs it once in the background, so that the first page a user opens does not wait
    /// for the load and the JIT; a model that fails to load is reported by the first request instead.
    /// </summary>
    public static Task WarmUp(WebApplication app, ICommandResults commands) =>
        Task.Run(async () =>
        {
            try
            {
                await app.Services.GetRequiredService<ModelCatalog>().WithModel(null, m => commands.Run(m, "Once upon a time", 1), CancellationToken.None);
            }
            catch (Exception e) when (e is not OutOfMemoryException) { /* the same error reaches the first request that names the model */ }
        });

    /// <summary>The address to open, with the token: the bound port (when 0 asked for a free one) on the bound host.</summary>
    public static string PrintedUrl(WebApplication app, ServeOptions options)
    {
        var bound = app.Urls.Select(u => new Uri(u)).FirstOrDefault();
        string host = options.Host is "0.0.0.0" or "::" ? "127.0.0.1" : options.Host;
        return $"{Url(host, bound?.Port ?? options.Port)}/?token={options.Token}";
    }

    public static string Url(string host, int port) => $"http://{(IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host)}:{port}";

    private static void CopyJson(JsonSerializerOptions from, JsonSerializerOptions to)
    {
        to.PropertyNamingPolicy = from.PropertyNamingPolicy;
        to.DefaultIgnoreCondition = from.DefaultIgnoreCondition;
        to.NumberHandling = from.NumberHandling;
        to.TypeInfoResolver = from.TypeInfoResolver;
        foreach (var converter in from.Converters) to.Converters.Add(converter);
        to.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
    }

    private static void MapApi(RouteGroupBuilder api, ICommandResults commands)
    {
        var types = commands.Types;
        IResult Json(object value) => Results.Json(value, ReportJson.Options);

        api.MapGet("/models", (ModelCatalog catalog) => Json(new CatalogResult(
                catalog.Roots.ToArray(), catalog.DefaultModelName, [.. catalog.Models()], [.. catalog.Runs()])))
            .Produces<CatalogResult>().WithSummary("models and training runs under the served folders");

        api.MapGet("/info", async (string? model, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(model, commands.Info, cancel)))
            .Produces(200, types.Info).WithSummary("as pinpoint info --json");

        api.MapPost("/run", async (Requests.PromptBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => commands.Run(m, body.RequiredPrompt, body.TopOr(10)), cancel)))
            .Produces(200, types.Run).WithSummary("as pinpoint run --json: the prompt's tokens and the top next-token predictions");

        api.MapPost("/generate", async (Requests.GenerateBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => commands.Generate(m, body.Prompt ?? throw new ArgumentException("prompt is required"), body.Tokens, body.Sampling()), cancel)))
            .Produces(200, types.Generate).WithSummary("as pinpoint generate --json: greedy, or sampled with a seed");

        api.MapPost("/lens", async (Requests.PromptBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => TokenLens.Run(m, body.RequiredPrompt, body.TopOr(5)), cancel)))
            .Produces<TokenLensResult>().WithSummary("logit lens in tokens: the top next tokens read after each layer");

        api.MapPost("/attention", async (Requests.PromptBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => AttentionPatterns.Run(m, body.RequiredPrompt), cancel)))
            .Produces<AttentionPatternsResult>().WithSummary("every head's attention pattern over the prompt");

        api.MapPost("/explain", async (Requests.ExplainBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => Explainer.Explain(m, body.Request(), body.Options() with { TunedLens = TunedLens.OfModel(m) }), cancel)))
            .Produces<ExplainReport>().WithSummary("as pinpoint explain --json (no prompt: the built-in article example)");

        api.MapGet("/explain/report.html", async (string? model, string? prompt, string? target, string? foil, string? counterfactual, ModelCatalog catalog, HttpContext context, CancellationToken cancel) =>
            {
                var body = new Requests.ExplainBody(model, prompt, target, foil, counterfactual, null, null, null);
                var html = await catalog.WithModel(model, m => ExplainHtmlReport.Render(Explainer.Explain(m, body.Request(), body.Options() with { TunedLens = TunedLens.OfModel(m) })), cancel);
                context.Response.Headers.ContentSecurityPolicy = Security.ReportPolicy;
                return Results.Content(html, "text/html; charset=utf-8");
            })
            .WithSummary("the page explain --html writes, for one prediction (inline CSS and SVG, no scripts)");

        api.MapPost("/ablate", async (Requests.AblateBody body, ModelCatalog catalog, CancellationToken cancel) =>
                Json(await catalog.WithModel(body.Model, m => SetAblation.Run(m, body.Request(), body.Components ?? [], body.AblationKind), cancel)))
            .Produces<SetAblationResult>().WithSummary("knock out a chosen set of heads/MLPs/neurons together; the new target − foil difference");

        api.MapPost("/jobs/explain-dataset", async (Requests.DatasetBody body, ModelCatalog catalog, Jobs jobs) =>
            {
                var items = body.ScoreItems();
                var options = body.Options();
                string name = string.IsNullOrWhiteSpace(body.Name) ? $"{items.Count} items" : body.Name;
                var (model, lease) = await catalog.TakeForJob(body.Model, "a dataset explain");
                var job = jobs.Start("explain-dataset", body.Model ?? catalog.DefaultModelName, async (report, cancel) =>
                {
                    using (lease)
                        return await Task.Run(() => DatasetExplainer.Explain(model, items, options,
                            (stage, done, total) => report(new JobProgress(stage, done, total)), cancel) with { Dataset = name }, cancel);
                });
                return Results.Json(job.Status, ReportJson.Options, statusCode: StatusCodes.Status202Accepted);
            })
            .Produces<JobStatus>(StatusCodes.Status202Accepted)
            .WithSummary("start explain --dataset in the background; follow /api/jobs/{id}/events, cancel with DELETE /api/jobs/{id}");

        api.MapPost("/jobs/circuit", async (Requests.CircuitBody body, ModelCatalog catalog, Jobs jobs) =>
            {
                var requests = body.Requests();
                var options = body.Options();
                var (model, lease) = await catalog.TakeForJob(body.Model, "a circuit");
                var job = jobs.Start("circuit", body.Model ?? catalog.DefaultModelName, async (report, cancel) =>
                {
                    using (lease)
                        return await Task.Run(() => CircuitExplainer.Explain(model, requests, options,
                            progress: (stage, done, total) => report(new JobProgress(stage, done, total)), cancel: cancel), cancel);
                });
                return Results.Json(job.Status, ReportJson.Options, statusCode: StatusCodes.Status202Accepted);
            })
            .Produces<JobStatus>(StatusCodes.Status202Accepted)
            .WithSummary("start pinpoint circuit in the background; the done event carries what circuit --json prints (CircuitReport), the drawn graph is /api/jobs/{id}/circuit.svg");

        api.MapGet("/jobs/{id}/circuit.svg", (string id, Jobs jobs) => Find(jobs, id).Result is CircuitReport report
                ? Results.Text(CircuitHtmlReport.GraphSvg(report).Markup, "image/svg+xml")
                : throw new FileNotFoundException($"job '{id}' holds no finished circuit"))
            .WithSummary("a finished circuit job's graph as the HTML report draws it (layered; nodes link to #node-NAME)");

        api.MapGet("/jobs/{id}", (string id, Jobs jobs) => Json(Find(jobs, id).Status)).Produces<JobStatus>();
        api.MapDelete("/jobs/{id}", (string id, Jobs jobs) =>
        {
            var job = Find(jobs, id);
            job.Cancellation.Cancel();
            return Json(job.Status);
        }).Produces<JobStatus>().WithSummary("cancel a job (it stops at its next progress report)");

        api.MapGet("/jobs/{id}/events", async (string id, Jobs jobs, HttpContext context) =>
        {
            var job = Find(jobs, id);
            context.Response.ContentType = "text/event-stream";
            await foreach (var (name, data) in job.Listen().ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data, ReportJson.Options)}\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }).DisableRateLimiting().WithSummary("server-sent events: progress {stage,done,total}, then done (the explain --dataset result), failed or cancelled (the job status)");

        api.MapGet("/runs/metrics", (string? run, ModelCatalog catalog) =>
        {
            var metrics = MetricsFile(catalog, run);
            var dir = Path.GetDirectoryName(metrics)!;
            var checkpoints = Directory.Exists(Path.Combine(dir, Trainer.CheckpointsFolder))
                ? Directory.EnumerateDirectories(Path.Combine(dir, Trainer.CheckpointsFolder)).Select(d => Path.Combine(run ?? "", Trainer.CheckpointsFolder, Path.GetFileName(d)).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray()
                : [];
            return Json(new RunMetricsResult(run ?? "", [.. LossCurve.Read(metrics)], checkpoints));
        }).Produces<RunMetricsResult>().WithSummary("a training run's metrics.jsonl and checkpoints");

        api.MapGet("/runs/loss.svg", (string? run, ModelCatalog catalog) =>
        {
            return Results.Text(LossCurve.Render(LossCurve.Read(MetricsFile(catalog, run))), "image/svg+xml");
        }).WithSummary("the loss curve pinpoint train draws (loss.svg)");

        api.MapFallback(() => Results.Json(new { error = "no such API endpoint" }, statusCode: StatusCodes.Status404NotFound));
    }

    /// <summary>A run's metrics.jsonl; the run is a folder under a root ("" is the first root itself).</summary>
    private static string MetricsFile(ModelCatalog catalog, string? run)
    {
        var metrics = Path.Combine(catalog.Resolve(run ?? "", "run"), Trainer.MetricsFile);
        return File.Exists(metrics) ? metrics : throw new FileNotFoundException($"run '{run}' has no {Trainer.MetricsFile}");
    }

    private static Jobs.Job Find(Jobs jobs, string id) => jobs.Find(id) ?? throw new FileNotFoundException($"no job '{id}'");

    /// <summary>The pages: every file under wwwroot/ as an embedded resource, read once.</summary>
    private static void MapAssets(WebApplication app)
    {
        var assembly = typeof(WebServer).Assembly;
        var assets = assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal))
            .ToDictionary(n => "/" + n["wwwroot/".Length..], n => Read(assembly, n), StringComparer.Ordinal);
        app.MapGet("/{**path}", (string? path) =>
        {
            var key = "/" + (string.IsNullOrEmpty(path) ? "index.html" : path);
            return assets.TryGetValue(key, out var bytes)
                ? Results.Bytes(bytes, ContentType(key))
                : Results.Json(new { error = $"no page {key}" }, statusCode: StatusCodes.Status404NotFound);
        }).ExcludeFromDescription();
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}

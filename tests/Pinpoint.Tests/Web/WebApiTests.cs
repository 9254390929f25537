using System.Net;
using System.Text.Json;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Tests.Cli;

namespace Pinpoint.Tests.Web;

/// <summary>The API on the embedded model: the CLI's --json objects, closed-form checks, bad input as 4xx JSON, jobs over server-sent events.</summary>
public class WebApiTests(WebHost host) : IClassFixture<WebHost>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<JsonElement> Post(string path, string json, int status = 200) =>
        await WebHost.Json(await host.Client().PostAsync(path, WebHost.Body(json), Cancel), status);

    [Fact]
    public async Task InfoAndRunAnswerExactlyWhatTheCliPrints()
    {
        var info = await host.Client().GetStringAsync("/api/info?model=default", Cancel);
        Assert.Equal(Cli.Cli.Run("info", "--model", Path.Combine(SharedData.RepoRoot, "models", "default"), "--json").Out.Trim(), info);
        var run = await host.Client().PostAsync("/api/run", WebHost.Body("""{"prompt":"Once upon a time","top":5}"""), Cancel);
        Assert.Equal(Cli.Cli.Run("run", "--prompt", "Once upon a time", "--top", "5", "--json").Out.Trim(), await run.Content.ReadAsStringAsync(Cancel));
        var generated = await Post("/api/generate", """{"prompt":"Once upon a time","max_new_tokens":8,"temperature":0.8,"seed":3}""");
        var cli = Cli.Cli.Run("generate", "--prompt", "Once upon a time", "-n", "8", "--temperature", "0.8", "--seed", "3", "--json").Json();
        Assert.Equal(cli.GetProperty("text").GetString(), generated.GetProperty("text").GetString());
    }

    [Fact]
    public async Task LensEndsWithTheModelsOwnPredictionAndPatternsAreCausalDistributions()
    {
        const string prompt = """{"prompt":"Tom had a big red ball. One day he lost","top":3}""";
        var lens = await Post("/api/lens", prompt);
        var run = await Post("/api/run", prompt);
        var rows = lens.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(["embed", "L0", "L1", "L2", "L3"], rows.Select(r => r.GetProperty("stage").GetString()));
        // After the last layer the lens is the model's output: same tokens, same probabilities.
        var last = rows[^1].GetProperty("top").EnumerateArray().ToList();
        var top = run.GetProperty("top").EnumerateArray().ToList();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(top[i].GetProperty("id").GetInt32(), last[i].GetProperty("id").GetInt32());
            Assert.Equal(top[i].GetProperty("prob").GetDouble(), last[i].GetProperty("prob").GetDouble(), 5);
        }

        var attention = await Post("/api/attention", prompt);
        int t = attention.GetProperty("tokens").GetArrayLength();
        var patterns = attention.GetProperty("patterns");
        Assert.Equal(4, patterns.GetArrayLength());
        foreach (var layer in patterns.EnumerateArray())
        foreach (var head in layer.EnumerateArray())
        {
            var rowsOfHead = head.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            Assert.Equal(t, rowsOfHead.Length);
            for (int q = 0; q < t; q++)
            {
                Assert.Equal(1.0, rowsOfHead[q].Sum(), 4);
                for (int k = q + 1; k < t; k++) Assert.Equal(0.0, rowsOfHead[q][k]);
            }
        }
    }

    [Fact]
    public async Task ExplainIsTheCliObjectAndAblatingOneComponentMatchesItsCurve()
    {
        const string args = """{"prompt":"Tom had a big red ball. One day he lost","target":" the","foil":" a","counterfactual":"Tom had a big red ball. One day he bought","top":3,"ig_steps":1}""";
        var response = await host.Client().PostAsync("/api/explain", WebHost.Body(args), Cancel);
        var text = await response.Content.ReadAsStringAsync(Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var cli = Cli.Cli.Run("explain", "--prompt", "Tom had a big red ball. One day he lost", "--target", " the", "--foil", " a",
            "--counterfactual", "Tom had a big red ball. One day he bought", "--top", "3", "--ig-steps", "1", "--json");
        Assert.Equal(cli.Out.Trim(), text);

        // The causal check's curve starts with its first component alone, resample-ablated: the same number as the ablate endpoint.
        var explain = JsonDocument.Parse(text).RootElement;
        var first = explain.GetProperty("verification").GetProperty("components")[0].GetString();
        var ablated = await Post("/api/ablate", args.Replace("\"top\":3,\"ig_steps\":1", $"\"components\":[\"{first}\"]"));
        Assert.Equal(explain.GetProperty("verification").GetProperty("resample").GetProperty("curve")[0].GetDouble(), ablated.GetProperty("fraction_removed").GetDouble(), 9);
        Assert.Equal(explain.GetProperty("logit_diff").GetDouble(), ablated.GetProperty("logit_diff").GetDouble(), 5);
    }

    [Fact]
    public async Task TheHtmlReportIsServedWithAPolicyThatAllowsOnlyItsInlineCss()
    {
        var response = await host.Client().GetAsync("/api/explain/report.html", Cancel);
        var html = await response.Content.ReadAsStringAsync(Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<svg", html);
        Assert.Contains("Tom had a big red ball", html);
        Assert.StartsWith("default-src 'none'; style-src 'unsafe-inline'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Theory]
    [InlineData("/api/run", """{"prompt":"Once upon""", 400, "malformed JSON")]
    [InlineData("/api/run", """{"prompt":"Once upon","topp":3}""", 400, "topp")]
    [InlineData("/api/run", """{"top":3}""", 400, "prompt is required")]
    [InlineData("/api/run", """{"prompt":"x","top":0}""", 400, "top: 0")]
    [InlineData("/api/run", """{"prompt":"x","model":"nope"}""", 404, "nope")]
    [InlineData("/api/explain", """{"prompt":"Once upon a time","target":" the"}""", 400, "foil is required")]
    [InlineData("/api/explain", """{"prompt":"Once upon a time","target":" the","foil":" the"}""", 400, "no difference to explain")]
    [InlineData("/api/ablate", """{"components":["L9H0"]}""", 400, "4 layers")]
    [InlineData("/api/ablate", """{"components":["head 3"]}""", 400, "not a head")]
    [InlineData("/api/ablate", """{"components":["L0H0"],"kind":"zero"}""", 400, "kind")]
    [InlineData("/api/nothing", "{}", 404, "no such API endpoint")]
    public async Task BadInputIsA4xxJsonErrorAndTheServerKeepsServing(string path, string json, int status, string mention)
    {
        await WebHost.AssertError(await host.Client().PostAsync(path, WebHost.Body(json), Cancel), status, mention);
        Assert.Equal(HttpStatusCode.OK, (await host.Client().GetAsync("/api/models", Cancel)).StatusCode);
    }

    [Fact]
    public async Task SeveralTabsAtOnceGetTheSameAnswersAsOneAtATime()
    {
        const string body = """{"prompt":"Once upon a time there was","top":3}""";
        var alone = await (await host.Client().PostAsync("/api/run", WebHost.Body(body), Cancel)).Content.ReadAsStringAsync(Cancel);
        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
            await (await host.Client().PostAsync("/api/run", WebHost.Body(body), Cancel)).Content.ReadAsStringAsync(Cancel)));
        Assert.All(together, answer => Assert.Equal(alone, answer));
    }

    [Fact]
    public async Task PromptOverTheContextIs400()
    {
        var prompt = string.Join(" ", Enumerable.Repeat("the", 400));
        await WebHost.AssertError(await host.Client().PostAsync("/api/run", WebHost.Body($$"""{"prompt":"{{prompt}}"}"""), Cancel), 400, "context");
    }

    [Fact]
    public async Task ModelsListsTheEmbeddedModelAndItsTrainingRun()
    {
        var models = await WebHost.Json(await host.Client().GetAsync("/api/models", Cancel));
        Assert.Contains(models.GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == "default");
        Assert.Contains(models.GetProperty("runs").EnumerateArray(), r => r.GetProperty("name").GetString() == "");
        var run = await WebHost.Json(await host.Client().GetAsync("/api/runs/metrics?run=", Cancel));
        var lines = File.ReadLines(Path.Combine(SharedData.RepoRoot, "models", "metrics.jsonl")).Count(l => l.Length > 0);
        Assert.Equal(lines, run.GetProperty("metrics").GetArrayLength());
        var svg = await host.Client().GetAsync("/api/runs/loss.svg?run=", Cancel);
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task OpenApiDescribesTheCliShapes()
    {
        var doc = await WebHost.Json(await host.Client().GetAsync("/openapi/v1.json", Cancel));
        var paths = doc.GetProperty("paths");
        foreach (var p in new[] { "/api/info", "/api/explain", "/api/run", "/api/generate", "/api/lens", "/api/attention", "/api/ablate", "/api/jobs/explain-dataset", "/api/jobs/circuit" })
            Assert.True(paths.TryGetProperty(p, out _), $"{p} missing from the OpenAPI document");
        var text = doc.GetRawText();
        Assert.Contains("\"logit_diff\"", text);
        Assert.Contains("\"hooks\"", text);
    }

    [Fact]
    public async Task DatasetJobStreamsProgressIsExclusivePerModelAndCancels()
    {
        // Long enough (60 items) that the refusals and the cancel arrive while it runs, however fast the machine.
        var many = RepeatedItems(60, ",\"top\":3,\"verify_k\":2");
        var running = await Post("/api/jobs/explain-dataset", many, 202);
        string id = running.GetProperty("id").GetString()!;
        // The model is taken: a second job and a plain request on it are refused at once.
        await WebHost.AssertError(await host.Client().PostAsync("/api/jobs/explain-dataset", WebHost.Body(many), Cancel), 409, "busy");
        await WebHost.AssertError(await host.Client().PostAsync("/api/run", WebHost.Body("""{"prompt":"x"}"""), Cancel), 409, "busy");
        var cancelled = await WebHost.Json(await host.Client().DeleteAsync($"/api/jobs/{id}", Cancel));
        Assert.Equal(id, cancelled.GetProperty("id").GetString());
        var events = await Events(id);
        Assert.Equal("cancelled", events[^1].Event);

        const string items = """{"items":[{"prompt":"Tom had a big red ball. One day he lost","target":" the","foil":" a","counterfactual":"Tom had a big red ball. One day he bought"},{"prompt":"Once upon a time there was","target":" a","foil":" the"}],"top":3,"verify_k":2}""";
        var finished = await Post("/api/jobs/explain-dataset", items, 202);
        events = await Events(finished.GetProperty("id").GetString()!);
        Assert.Contains("progress", events.Select(e => e.Event));
        var (last, data) = events[^1];
        Assert.Equal("done", last);
        Assert.Equal(2, data.GetProperty("items").GetInt32());
        Assert.Equal(2, data.GetProperty("verification").GetProperty("k").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await host.Client().PostAsync("/api/run", WebHost.Body("""{"prompt":"x"}"""), Cancel)).StatusCode);
    }

    [Fact]
    public async Task CircuitJobAnswersWhatTheCliPrintsAndDrawsItsGraph()
    {
        const string example = "\"prompt\":\"Tom had a big red ball. One day he lost\",\"target\":\" the\",\"foil\":\" a\",\"counterfactual\":\"Tom had a big red ball. One day he bought\"";
        var started = await Post("/api/jobs/circuit", "{" + example + ""","edges":12,"curve_points":4,"random":2}""", 202);
        string id = started.GetProperty("id").GetString()!;
        var events = await Events(id);
        Assert.Contains("progress", events.Select(e => e.Event));
        var (last, data) = events[^1];
        Assert.Equal("done", last);
        var cli = Cli.Cli.Run("circuit", "--prompt", "Tom had a big red ball. One day he lost", "--target", " the", "--foil", " a",
            "--counterfactual", "Tom had a big red ball. One day he bought", "--edges", "12", "--curve-points", "4", "--random", "2", "--json").Json();
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(cli.GetRawText()), System.Text.Json.Nodes.JsonNode.Parse(data.GetRawText())),
            "the job's result differs from circuit --json");
        // Every head of the circuit carries its readout, QK circuit included.
        var heads = data.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("kind").GetString() == "head").ToList();
        Assert.NotEmpty(heads);
        Assert.All(heads, h => Assert.Equal(CircuitExplainer.ReadoutTokens, h.GetProperty("head").GetProperty("qk_circuit").GetProperty("favours").GetArrayLength()));

        var svg = await host.Client().GetAsync($"/api/jobs/{id}/circuit.svg", Cancel);
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType?.MediaType);
        var drawing = await svg.Content.ReadAsStringAsync(Cancel);
        Assert.StartsWith("<svg", drawing);
        Assert.All(heads, h => Assert.Contains($"data-node=\"{h.GetProperty("name").GetString()}\"", drawing));

        await WebHost.AssertError(await host.Client().PostAsync("/api/jobs/circuit", WebHost.Body("{" + example + ""","target_faithfulness":1.5}"""), Cancel), 400, "target_faithfulness");
        await WebHost.AssertError(await host.Client().PostAsync("/api/jobs/circuit", WebHost.Body("{" + example + ""","edges":3,"target_faithfulness":0.5}"""), Cancel), 400, "give one");
        await WebHost.AssertError(await host.Client().PostAsync("/api/jobs/circuit", WebHost.Body("{" + example + ""","items":[]}"""), Cancel), 400, "not both");
        await WebHost.AssertError(await host.Client().GetAsync("/api/jobs/nonesuch/circuit.svg", Cancel), 404, "nonesuch");
    }

    [Fact]
    public async Task CircuitJobIsExclusivePerModelAndCancels()
    {
        // Long enough (40 items, 30 curve points) that the refusal and the cancel arrive while it runs.
        var many = RepeatedItems(40, "");
        var running = await Post("/api/jobs/circuit", many, 202);
        string id = running.GetProperty("id").GetString()!;
        await WebHost.AssertError(await host.Client().PostAsync("/api/jobs/circuit", WebHost.Body(many), Cancel), 409, "busy");
        await WebHost.Json(await host.Client().DeleteAsync($"/api/jobs/{id}", Cancel));
        Assert.Equal("cancelled", (await Events(id))[^1].Event);
        await WebHost.AssertError(await host.Client().GetAsync($"/api/jobs/{id}/circuit.svg", Cancel), 404, "no finished circuit");
    }

    /// <summary>A job body of <paramref name="count"/> copies of the article example, then <paramref name="options"/> (",\"top\":3" or "").</summary>
    private static string RepeatedItems(int count, string options) =>
        "{\"items\":[" + string.Join(",", Enumerable.Repeat("""{"prompt":"Tom had a big red ball. One day he lost","target":" the","foil":" a","counterfactual":"Tom had a big red ball. One day he bought"}""", count)) + "]" + options + "}";

    /// <summary>Reads a job's server-sent events to the end.</summary>
    private async Task<List<(string Event, JsonElement Data)>> Events(string id)
    {
        var stream = await host.Client().GetStreamAsync($"/api/jobs/{id}/events", Cancel);
        using var reader = new StreamReader(stream);
        var events = new List<(string, JsonElement)>();
        string? name = null;
        while (await reader.ReadLineAsync(Cancel) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) events.Add((name!, JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone()));
        }
        return events;
    }
}

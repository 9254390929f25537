using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Pinpoint.Cli;
using Pinpoint.Cli.Commands;
using Pinpoint.Web;

namespace Pinpoint.Tests.Web;

/// <summary>
/// The web app in process (TestServer) on the repository's models/ plus a second root holding a symbolic link that
/// leads out of it; shared by a test class so the embedded model loads once.
/// </summary>
public sealed class WebHost : IAsyncDisposable
{
    public const string Token = "test-token-0123456789";

    private readonly WebApplication _app;

    public DirectoryInfo OtherRoot { get; } = Directory.CreateTempSubdirectory("pinpoint-web-root-");

    public WebHost()
    {
        // A link inside the second root to a model outside it: resolving it must not escape the root.
        File.CreateSymbolicLink(Path.Combine(OtherRoot.FullName, "escape"), Path.Combine(SharedData.RepoRoot, "models", "default"));
        Directory.CreateDirectory(Path.Combine(OtherRoot.FullName, "empty"));
        var options = new ServeOptions("127.0.0.1", 0, Token, [Path.Combine(SharedData.RepoRoot, "models"), OtherRoot.FullName]);
        _app = WebServer.Build(options, new CliCommandResults(), b => b.WebHost.UseTestServer());
        _app.StartAsync().GetAwaiter().GetResult();
    }

    /// <summary>A client with the token as a Bearer header (or none), Host localhost as browsers send it.</summary>
    public HttpClient Client(bool withToken = true)
    {
        var client = _app.GetTestClient();
        if (withToken) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> Json(HttpResponseMessage response, int status = 200)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode} instead of {status}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>An error answer: the status, a JSON {"error"} mentioning <paramref name="mention"/>, no stack trace.</summary>
    public static async Task AssertError(HttpResponseMessage response, int status, string mention)
    {
        var json = await Json(response, status);
        var message = json.GetProperty("error").GetString()!;
        Assert.Contains(mention, message);
        Assert.DoesNotContain("   at ", message);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        OtherRoot.Delete(recursive: true);
    }
}

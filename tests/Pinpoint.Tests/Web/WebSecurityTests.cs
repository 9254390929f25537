using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Pinpoint.Cli.Commands;
using Pinpoint.Web;

namespace Pinpoint.Tests.Web;

/// <summary>Each rule of the server's guard, in process, and the real socket bound to loopback only.</summary>
public class WebSecurityTests(WebHost host) : IClassFixture<WebHost>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/api/models")]
    [InlineData("/")]
    [InlineData("/js/app.js")]
    [InlineData("/openapi/v1.json")]
    public async Task NoTokenIs401(string path)
    {
        var response = await host.Client(withToken: false).GetAsync(path, Cancel);
        await WebHost.AssertError(response, 401, "token");
    }

    [Fact]
    public async Task WrongBearerTokenIs401()
    {
        var client = host.Client(withToken: false);
        client.DefaultRequestHeaders.Authorization = new("Bearer", "not-the-token");
        await WebHost.AssertError(await client.GetAsync("/api/models", Cancel), 401, "token");
    }

    [Fact]
    public async Task UrlTokenBecomesAStrictHttpOnlyCookieAndLeavesTheAddress()
    {
        var client = host.Client(withToken: false);
        var response = await client.GetAsync($"/?token={WebHost.Token}&tab=prompt", Cancel);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/?tab=prompt", response.Headers.Location!.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"{Security.CookieName}={WebHost.Token}", cookie);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);

        var withCookie = host.Client(withToken: false);
        withCookie.DefaultRequestHeaders.Add("Cookie", $"{Security.CookieName}={WebHost.Token}");
        Assert.Equal(HttpStatusCode.OK, (await withCookie.GetAsync("/api/models", Cancel)).StatusCode);

        await WebHost.AssertError(await host.Client(withToken: false).GetAsync("/?token=wrong", Cancel), 401, "wrong token");
    }

    [Theory]
    [InlineData("evil.example.com")]
    [InlineData("evil.example.com:8765")]
    [InlineData("10.1.2.3")]
    public async Task ForeignHostIs400EvenWithTheToken(string hostHeader)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/models");
        request.Headers.Host = hostHeader;
        await WebHost.AssertError(await host.Client().SendAsync(request, Cancel), 400, "DNS rebinding");
    }

    [Fact]
    public async Task CrossOriginPostIs403AndSameOriginPasses()
    {
        var foreign = new HttpRequestMessage(HttpMethod.Post, "/api/run") { Content = WebHost.Body("""{"prompt":"Once upon a time"}""") };
        foreign.Headers.Add("Origin", "http://evil.example.com");
        await WebHost.AssertError(await host.Client().SendAsync(foreign, Cancel), 403, "cross-origin");

        var same = new HttpRequestMessage(HttpMethod.Post, "/api/run") { Content = WebHost.Body("""{"prompt":"Once upon a time"}""") };
        same.Headers.Add("Origin", "http://localhost");
        Assert.Equal(HttpStatusCode.OK, (await host.Client().SendAsync(same, Cancel)).StatusCode);
    }

    [Fact]
    public async Task NoCorsAndAStrictContentSecurityPolicy()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/models");
        request.Headers.Add("Origin", "http://evil.example.com");
        var response = await host.Client().SendAsync(request, Cancel);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/run");
        preflight.Headers.Add("Origin", "http://evil.example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        Assert.False((await host.Client().SendAsync(preflight, Cancel)).Headers.Contains("Access-Control-Allow-Origin"));

        var page = await host.Client().GetAsync("/", Cancel);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.StartsWith("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Theory]
    [InlineData("../models/default", 403, "'..'")]
    [InlineData("default/../../README.md", 403, "'..'")]
    [InlineData("/etc", 403, "outside")]
    [InlineData("escape", 403, "symbolic link")]
    [InlineData("no-such-model", 404, "not found")]
    public async Task ModelPathsStayInsideTheRoots(string model, int status, string mention)
    {
        var response = await host.Client().GetAsync($"/api/info?model={Uri.EscapeDataString(model)}", Cancel);
        await WebHost.AssertError(response, status, mention);
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        var body = WebHost.Body($$"""{"prompt":"{{new string('a', (int)ServeOptions.MaxRequestBytes)}}"}""");
        await WebHost.AssertError(await host.Client().PostAsync("/api/run", body, Cancel), 413, "over the limit");
    }

    [Fact]
    public async Task ListensOnLoopbackOnly()
    {
        var options = new ServeOptions(ServeOptions.DefaultHost, 0, WebHost.Token, [Path.Combine(SharedData.RepoRoot, "models")]);
        await using var app = WebServer.Build(options, new CliCommandResults());
        await app.StartAsync(Cancel);
        var bound = new Uri(app.Urls.Single());
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(bound.Host)), $"bound to {bound}");
        Assert.Contains("127.0.0.1", WebServer.PrintedUrl(app, options));

        using (var loopback = new TcpClient()) await loopback.ConnectAsync(IPAddress.Loopback, bound.Port, Cancel);
        // The same port on this machine's other addresses refuses the connection.
        var others = NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address).Where(a => !IPAddress.IsLoopback(a) && a.AddressFamily == AddressFamily.InterNetwork).ToList();
        foreach (var address in others)
        {
            using var client = new TcpClient();
            await Assert.ThrowsAnyAsync<SocketException>(() => client.ConnectAsync(address, bound.Port, Cancel).AsTask());
        }
        await app.StopAsync(Cancel);
    }
}

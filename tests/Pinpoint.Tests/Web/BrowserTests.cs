using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Pinpoint.Cli.Commands;
using Pinpoint.Web;
using PuppeteerSharp;

namespace Pinpoint.Tests.Web;

/// <summary>
/// The app on a real socket, driven in Debian's Chromium (never a downloaded browser): the pages, the interactive
/// explanation, tab switching, and that nothing is fetched from anywhere but the server. Screenshots go to
/// $TMPDIR/pinpoint-web-screenshots for a person to look at. Skipped where Chromium is missing, failed under CI=true.
/// </summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    public static string ScreenshotFolder { get; } = Path.Combine(Path.GetTempPath(), "pinpoint-web-screenshots");

    private WebApplication? _app;
    private IBrowser? _browser;
    private string _url = "";
    private string _origin = "";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Chromium)) return;
        var options = new ServeOptions(ServeOptions.DefaultHost, 0, WebHost.Token, [Path.Combine(SharedData.RepoRoot, "models")]);
        _app = WebServer.Build(options, new CliCommandResults());
        await _app.StartAsync();
        _url = WebServer.PrintedUrl(_app, options);
        _origin = new Uri(_url).GetLeftPart(UriPartial.Authority);
        _browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Chromium, Headless = true,
            // No network but the server: everything not on loopback goes to a proxy that is not there (loopback is
            // never proxied). DevTools' offline emulation cannot be used for this: it cuts the loopback server off too.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", "--proxy-server=http://127.0.0.1:9"],
            DefaultViewport = new ViewPortOptions { Width = 1360, Height = 1000 },
        });
        Directory.CreateDirectory(ScreenshotFolder);
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null) await _browser.CloseAsync();
        if (_app is not null) await _app.DisposeAsync();
    }

    private void RequireChromium()
    {
        if (_browser is not null) return;
        if (SharedData.IsCi) Assert.Fail($"{Chromium} missing (.ci/run installs it with apt-get)");
        Assert.Skip($"{Chromium} not installed (apt-get install chromium)");
    }

    /// <summary>A page that refuses every request not to this server (and records it), and records script errors.</summary>
    private async Task<(IPage Page, List<string> Foreign, List<string> Errors)> OpenPage()
    {
        var page = await _browser!.NewPageAsync();
        var foreign = new List<string>();
        var errors = new List<string>();
        await page.SetRequestInterceptionAsync(true);
        page.Request += async (_, e) =>
        {
            if (e.Request.Url.StartsWith(_origin, StringComparison.Ordinal) || e.Request.Url.StartsWith("data:", StringComparison.Ordinal)) await e.Request.ContinueAsync();
            else
            {
                lock (foreign) foreign.Add(e.Request.Url);
                await e.Request.AbortAsync();
            }
        };
        page.PageError += (_, e) => { lock (errors) errors.Add(e.Message); };
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) lock (errors) errors.Add(e.Message.Text); };
        return (page, foreign, errors);
    }

    /// <summary>The whole page from its top (scrolled back first, so the sticky header sits where it belongs).</summary>
    private static async Task Shot(IPage page, string name)
    {
        await page.EvaluateExpressionAsync("window.scrollTo(0, 0)");
        await page.ScreenshotAsync(Path.Combine(ScreenshotFolder, name + ".png"), new ScreenshotOptions { FullPage = true });
    }

    private static Task<string> Text(IPage page, string selector) =>
        page.EvaluateFunctionAsync<string>("s => document.querySelector(s).textContent", selector);

    [Fact]
    public async Task PromptExplainClickAHeadAblateAndSwitchTabs()
    {
        RequireChromium();
        var (page, foreign, errors) = await OpenPage();
        var clock = Stopwatch.StartNew();
        await page.GoToAsync(_url);
        // The token left the address for an HttpOnly cookie that scripts cannot read.
        Assert.DoesNotContain("token=", page.Url);
        Assert.Equal("", await page.EvaluateExpressionAsync<string>("document.cookie"));
        await page.WaitForSelectorAsync("#prompt-output table", new WaitForSelectorOptions { Timeout = 30_000 });
        var firstPage = clock.Elapsed;

        // Attention patterns: pick a head, hover a token.
        await page.ClickAsync("#head-grid button:nth-child(3)");
        Assert.Contains("H2 pattern", await Text(page, "#prompt-output svg.heatmap"));
        await page.HoverAsync("#attention-tokens .tok:nth-child(3)");
        Assert.Contains("→", await page.EvaluateExpressionAsync<string>("document.querySelector('#attention-tokens .tok:nth-child(2)').title"));
        await Shot(page, "prompt");

        await page.ClickAsync("nav a[data-page=explain]");
        await page.WaitForSelectorAsync("#explain-run");
        clock.Restart();
        await page.ClickAsync("#explain-run");
        await page.WaitForSelectorAsync("#map-heads rect.cell", new WaitForSelectorOptions { Timeout = 60_000 });
        var explain = clock.Elapsed;
        Assert.Equal(" the", await page.EvaluateExpressionAsync<string>("document.querySelector('#explain-output .tok').textContent.replace(/·/g, ' ')"));

        // A head cell opens its mechanism panel; the top head by patching has a token-level mechanism.
        await page.ClickAsync("#map-heads rect[data-row='2'][data-col='3']");
        await page.WaitForSelectorAsync("#mechanism-name");
        Assert.StartsWith("L2H3", await Text(page, "#mechanism-name"));
        Assert.Contains("activation patching (denoise)", await Text(page, "#mechanism"));
        Assert.Contains("@", await Text(page, "#mechanism-attention"));
        await page.ClickAsync("#mechanism-add");
        Assert.Contains("L2H3", await Text(page, "#ablation-set"));
        await page.ClickAsync("#ablate-run");
        await page.WaitForSelectorAsync("#ablated-diff", new WaitForSelectorOptions { Timeout = 30_000 });
        Assert.True(double.TryParse(await Text(page, "#ablated-diff"), System.Globalization.CultureInfo.InvariantCulture, out _));
        Assert.NotEqual(await Text(page, "#logit-diff"), await Text(page, "#ablated-diff"));
        await Shot(page, "explain");

        // Dataset explain runs as a job: progress arrives over server-sent events, and Cancel stops it. The three
        // example items can finish before the click reaches the server on a fast machine, so the job gets 120.
        await page.EvaluateExpressionAsync("{ const items = document.querySelector('#dataset-items'); items.value = Array(40).fill(items.value).join('\\n'); }");
        await page.ClickAsync("#dataset-run");
        await page.WaitForFunctionAsync("() => document.querySelector('#dataset-stage').textContent.includes('/')", new WaitForFunctionOptions { Timeout = 30_000 });
        await page.ClickAsync("#dataset-cancel");
        // The run button comes back whatever the outcome, so a job that finished anyway fails here with its stage.
        await page.WaitForFunctionAsync("() => !document.querySelector('#dataset-run').disabled", new WaitForFunctionOptions { Timeout = 30_000 });
        Assert.Equal("cancelled", await Text(page, "#dataset-stage"));

        await page.ClickAsync("nav a[data-page=models]");
        await page.WaitForSelectorAsync("pre.hooks");
        Assert.Contains("blocks.0.attn.hook_z", await Text(page, "pre.hooks"));
        await Shot(page, "models");
        await page.ClickAsync("nav a[data-page=runs]");
        await page.WaitForSelectorAsync("#run-detail svg.chart");
        await page.WaitForFunctionAsync("() => document.querySelector('#run-loss-svg').naturalWidth > 0");
        await Shot(page, "runs");
        // Back to explain: the explanation is still there.
        await page.ClickAsync("nav a[data-page=explain]");
        await page.WaitForSelectorAsync("#map-heads");

        Assert.Empty(foreign);
        Assert.Empty(errors);
        TestContext.Current.SendDiagnosticMessage($"first page usable {firstPage.TotalSeconds:F2} s after the URL; explain in the browser {explain.TotalSeconds:F2} s");
    }

    [Fact]
    public async Task CircuitJobDrawsTheGraphAndANodeClickOpensItsReadout()
    {
        RequireChromium();
        var (page, foreign, errors) = await OpenPage();
        await page.GoToAsync($"{_url}#circuit");
        await page.WaitForSelectorAsync("#circuit-run", new WaitForSelectorOptions { Timeout = 30_000 });
        await page.EvaluateExpressionAsync("document.querySelector('#circuit-size').value = '12'; document.querySelector('#circuit-curve').value = '4'");
        await page.ClickAsync("#circuit-run");
        await page.WaitForSelectorAsync("#circuit-graph svg g.node", new WaitForSelectorOptions { Timeout = 120_000 });
        Assert.Equal("done", await Text(page, "#circuit-stage"));
        Assert.StartsWith("A circuit of", await Text(page, "#circuit-summary"));
        // Clicking a head or MLP shows its readout in place (the page stays on #circuit).
        string name = await page.EvaluateExpressionAsync<string>("document.querySelector('#circuit-graph a g.node').dataset.node");
        await page.ClickAsync("#circuit-graph a g.node rect");
        await page.WaitForSelectorAsync("#circuit-node-name");
        Assert.Equal(name, await Text(page, "#circuit-node-name"));
        Assert.Contains("promotes", await Text(page, "#circuit-readout"));
        Assert.EndsWith("#circuit", page.Url);
        await Shot(page, "circuit");
        Assert.Empty(foreign);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task EveryPageWorksOfflineFromAFreshLoad()
    {
        RequireChromium();
        // The browser really has no way out.
        var probe = await _browser!.NewPageAsync();
        await Assert.ThrowsAnyAsync<PuppeteerException>(() => probe.GoToAsync("http://example.com/"));
        await probe.CloseAsync();
        foreach (var (tab, ready) in new[] { ("models", "pre.hooks"), ("runs", "#run-detail svg.chart"), ("prompt", "#prompt-output table"), ("explain", "#explain-run"), ("circuit", "#circuit-run") })
        {
            var (page, foreign, errors) = await OpenPage();
            await page.GoToAsync($"{_url}#{tab}");
            await page.WaitForSelectorAsync(ready, new WaitForSelectorOptions { Timeout = 30_000 });
            Assert.Empty(foreign);
            Assert.Empty(errors);
            await page.CloseAsync();
        }
    }
}

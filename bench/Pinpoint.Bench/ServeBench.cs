using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PuppeteerSharp;

namespace Pinpoint.Bench;

/// <summary>
/// The targets of <c>pinpoint serve</c>, measured as a user meets them: the server started as its own process
/// (<c>pinpoint serve --port 0</c>), Debian's Chromium already open; from the moment the URL is printed to the
/// prompt page showing its predictions; the built-in example explained from the click to the heatmaps; and the
/// server's resident memory idle, before and after the model is loaded.
/// </summary>
public static partial class ServeBench
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public static int Run(bool json) => RunAsync(json).GetAwaiter().GetResult();

    private static async Task<int> RunAsync(bool json)
    {
        if (!File.Exists(Chromium)) throw new BenchSetupException($"{Chromium} missing (apt-get install chromium)");
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
            DefaultViewport = new ViewPortOptions { Width = 1360, Height = 1000 },
        });
        var page = await browser.NewPageAsync();
        await page.GoToAsync("about:blank");

        var cli = Path.Combine(AppContext.BaseDirectory, "pinpoint.dll");
        using var server = Process.Start(new ProcessStartInfo("dotnet", [cli, "serve", "--port", "0"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        }) ?? throw new BenchSetupException("cannot start pinpoint serve");
        try
        {
            var started = Stopwatch.StartNew();
            string url = "";
            while (await server.StandardOutput.ReadLineAsync() is { } line)
                if (PrintedUrl().Match(line) is { Success: true } m) { url = m.Value; break; }
            if (url.Length == 0) throw new BenchSetupException($"pinpoint serve printed no URL: {await server.StandardError.ReadToEndAsync()}");
            double startup = started.Elapsed.TotalSeconds;
            await Task.Delay(2000);
            double idleMb = ResidentMb(server.Id);

            var clock = Stopwatch.StartNew();
            await page.GoToAsync(url);
            await page.WaitForSelectorAsync("#model option", new WaitForSelectorOptions { Timeout = (int)Wait.TotalMilliseconds });
            double shell = clock.Elapsed.TotalSeconds;
            await page.WaitForSelectorAsync("#prompt-output table", new WaitForSelectorOptions { Timeout = (int)Wait.TotalMilliseconds });
            double firstPage = clock.Elapsed.TotalSeconds;

            await page.ClickAsync("nav a[data-page=explain]");
            await page.WaitForSelectorAsync("#explain-run");
            var explains = new List<double>();
            for (int i = 0; i < 4; i++)
            {
                await page.EvaluateExpressionAsync("document.querySelector('#explain-output').replaceChildren()");
                clock.Restart();
                await page.ClickAsync("#explain-run");
                await page.WaitForSelectorAsync("#map-heads rect.cell", new WaitForSelectorOptions { Timeout = (int)Wait.TotalMilliseconds });
                explains.Add(clock.Elapsed.TotalSeconds);
            }
            await Task.Delay(3000);
            double loadedMb = ResidentMb(server.Id);

            var r = new Result(startup, shell, firstPage, explains[0], explains.Skip(1).Min(), idleMb, loadedMb);
            Console.WriteLine(json ? r.Json() : r.Table());
            return 0;
        }
        finally
        {
            server.Kill();
        }
    }

    /// <summary>VmRSS of a process, in MB.</summary>
    private static double ResidentMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    [GeneratedRegex(@"http://\S+\?token=\S+")]
    private static partial Regex PrintedUrl();

    private sealed record Result(double Startup, double Shell, double FirstPage, double FirstExplain, double WarmExplain, double IdleMb, double LoadedMb)
    {
        public string Json() => string.Create(CultureInfo.InvariantCulture,
            $"{{\"startup_s\":{Startup:F2},\"page_usable_s\":{Shell:F2},\"first_predictions_s\":{FirstPage:F2},\"first_explain_s\":{FirstExplain:F2},\"warm_explain_s\":{WarmExplain:F2},\"idle_rss_mb\":{IdleMb:F0},\"rss_after_explain_mb\":{LoadedMb:F0}}}");

        public string Table() => string.Create(CultureInfo.InvariantCulture, $"""
            pinpoint serve on models/default, in Chromium
              process start to URL printed      {Startup,8:F2} s
              URL printed to page usable        {Shell,8:F2} s  (target ≤ 1 s: tabs, model list, prompt form)
              URL printed to first predictions  {FirstPage,8:F2} s  (top tokens, logit lens, attention of the example prompt)
              explain, built-in example, first  {FirstExplain,8:F2} s  (click to heatmaps)
              explain, warm (best of 3)         {WarmExplain,8:F2} s  (target ≤ 3 s)
              resident memory idle              {IdleMb,8:F0} MB (target ≤ 300 MB)
              resident memory after explain     {LoadedMb,8:F0} MB
            """);
    }
}

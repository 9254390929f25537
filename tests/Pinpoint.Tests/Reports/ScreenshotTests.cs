using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using Pinpoint.Cli;
using Pinpoint.Cli.Commands;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Reports;
using Pinpoint.Models.Loading;

namespace Pinpoint.Tests.Reports;

/// <summary>
/// Renders the embedded model's reports (one prediction, and a small dataset) in headless Chromium (as
/// scripts/screenshot-report does) and checks that a real picture came out. Skipped where Chromium is not installed.
/// </summary>
public class ScreenshotTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const int Width = 1400, Height = 3000;

    /// <summary>The page for the built-in example, or for three article items.</summary>
    private static string Page(string kind)
    {
        using var loaded = ModelLoader.Load(ModelOptions.DefaultModelPath);
        if (kind == "single") return ExplainHtmlReport.Render(Explainer.Explain(loaded, ExplainRequest.ArticleExample));
        ScoreItem[] items =
        [
            new("Tom had a big red ball. One day he lost", " the", " a"),
            new("Once upon a time there was", " a", " the"),
            new("Sue found a shell on the beach. She gave", " the", " a"),
        ];
        return DatasetHtmlReport.Render(DatasetExplainer.Explain(loaded, items), "three article items");
    }

    [Theory]
    [InlineData("single")]
    [InlineData("dataset")]
    public async Task ChromiumDrawsTheReport(string kind)
    {
        if (!File.Exists(Chromium)) Assert.Skip($"{Chromium} not installed (apt-get install chromium)");
        var dir = Directory.CreateTempSubdirectory("pinpoint-report-");
        try
        {
            var html = Path.Combine(dir.FullName, "report.html");
            File.WriteAllText(html, Page(kind));
            var png = Path.Combine(dir.FullName, "report.png");
            var (exitCode, stderr) = await Screenshot(html, png, Path.Combine(dir.FullName, "profile"));
            Assert.True(File.Exists(png), $"no screenshot; chromium exit {exitCode}: {stderr}");
            Assert.True(new FileInfo(png).Length > 20_000, $"screenshot only {new FileInfo(png).Length} bytes");

            var (width, height, pixels) = Png.DecodeRgb(File.ReadAllBytes(png));
            Assert.Equal((Width, Height), (width, height));
            // Heatmaps, lines and text: many colours, and a fair share of the page not white.
            Assert.True(pixels.Distinct().Count() > 50, "the screenshot has almost no colours");
            Assert.True(pixels.Count(p => p != 0xFFFFFF) > pixels.Length / 20, "the screenshot is nearly blank");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The command line of scripts/screenshot-report; Chromium is killed if it hangs.</summary>
    private static async Task<(int ExitCode, string Stderr)> Screenshot(string html, string png, string profile)
    {
        using var chromium = Process.Start(new ProcessStartInfo(Chromium,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}",
            $"--window-size={Width},{Height}", $"--screenshot={png}", new Uri(html).AbsoluteUri,
        ]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            var stdout = chromium.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = await chromium.StandardError.ReadToEndAsync(timeout.Token);
            await stdout;
            await chromium.WaitForExitAsync(timeout.Token);
            return (chromium.ExitCode, stderr);
        }
        finally
        {
            if (!chromium.HasExited) chromium.Kill(entireProcessTree: true);
        }
    }
}

/// <summary>Just enough of a PNG decoder (8-bit RGB or RGBA, not interlaced) to look at a screenshot's pixels.</summary>
public static class Png
{
    public static (int Width, int Height, int[] Rgb) DecodeRgb(byte[] file)
    {
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at < file.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(file, at + 4, 4);
            var data = file.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.True(data[8] == 8 && data[12] == 0, "expected 8-bit, non-interlaced");
                channels = data[9] switch { 2 => 3, 6 => 4, var c => throw new NotSupportedException($"PNG colour type {c}") };
            }
            else if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        var raw = inflated.ToArray();
        int stride = width * channels;
        var previous = new byte[stride];
        var rgb = new int[width * height];
        for (int y = 0; y < height; y++)
        {
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            Unfilter(raw[y * (stride + 1)], line, previous, channels);
            for (int x = 0; x < width; x++) rgb[y * width + x] = line[x * channels] << 16 | line[x * channels + 1] << 8 | line[x * channels + 2];
            line.CopyTo(previous);
        }
        return (width, height, rgb);
    }

    private static void Unfilter(byte filter, Span<byte> line, byte[] up, int bpp)
    {
        for (int i = 0; i < line.Length; i++)
        {
            int a = i >= bpp ? line[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
            int predicted = filter switch
            {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => Paeth(a, b, c),
                _ => throw new InvalidDataException($"PNG filter {filter}"),
            };
            line[i] = (byte)(line[i] + predicted);
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pinpoint.Interpretability.Training;

/// <summary>Draws metrics.jsonl as a self-contained SVG: training loss (thin) and validation loss (dots) against tokens.</summary>
public static class LossCurve
{
    public static void Write(string metricsPath, string svgPath)
    {
        if (!File.Exists(metricsPath)) return;
        var records = Read(metricsPath);
        if (records.Count == 0) return;
        File.WriteAllText(svgPath, Render(records));
    }

    /// <summary>Every line of a metrics.jsonl; a line that is not a metrics record fails with its FILE:LINE.</summary>
    public static List<MetricsRecord> Read(string metricsPath) =>
        File.ReadLines(metricsPath).Select((line, i) => (line, i)).Where(x => x.line.Length > 0).Select(x =>
        {
            try
            {
                return JsonSerializer.Deserialize<MetricsRecord>(x.line, Trainer.MetricsJson)
                    ?? throw new InvalidDataException($"{metricsPath}:{x.i + 1}: null instead of a metrics record");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{metricsPath}:{x.i + 1}: not a metrics record ({e.Message})");
            }
        }).ToList();

    public static string Render(IReadOnlyList<MetricsRecord> records)
    {
        const int width = 720, height = 420, left = 60, right = 20, top = 30, bottom = 50;
        var train = records.Where(r => r.TrainLoss is not null).Select(r => (X: (double)r.Tokens, Y: r.TrainLoss!.Value)).ToList();
        var val = records.Where(r => r.ValLoss is not null).Select(r => (X: (double)r.Tokens, Y: r.ValLoss!.Value)).ToList();
        var all = train.Concat(val).ToList();
        double xMax = Math.Max(1, all.Max(p => p.X)), yMin = all.Min(p => p.Y), yMax = all.Max(p => p.Y);
        if (yMax - yMin < 1e-9) yMax = yMin + 1;
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        double Px(double x) => left + (width - left - right) * x / xMax;
        double Py(double y) => top + (height - top - bottom) * (1 - (y - yMin) / (yMax - yMin));

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.Append($"<text x=\"{left}\" y=\"18\" font-size=\"14\">Loss vs tokens seen</text>");
        for (int i = 0; i <= 4; i++)
        {
            double y = yMin + (yMax - yMin) * i / 4;
            svg.Append($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{F(Py(y))}\" y2=\"{F(Py(y))}\" stroke=\"#eee\"/>");
            svg.Append($"<text x=\"{left - 6}\" y=\"{F(Py(y) + 4)}\" text-anchor=\"end\">{y.ToString("0.00", CultureInfo.InvariantCulture)}</text>");
            double x = xMax * i / 4;
            svg.Append($"<text x=\"{F(Px(x))}\" y=\"{height - bottom + 18}\" text-anchor=\"middle\">{FormatTokens(x)}</text>");
        }
        svg.Append($"<text x=\"{(left + width - right) / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">tokens</text>");
        if (train.Count > 0)
            svg.Append("<polyline fill=\"none\" stroke=\"#4a7fd4\" stroke-width=\"1\" points=\"")
               .Append(string.Join(' ', train.Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}"))).Append("\"/>");
        foreach (var p in val) svg.Append($"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"3\" fill=\"#d4574a\"/>");
        svg.Append($"<text x=\"{width - right - 150}\" y=\"{top + 10}\" fill=\"#4a7fd4\">— train loss</text>");
        svg.Append($"<text x=\"{width - right - 150}\" y=\"{top + 26}\" fill=\"#d4574a\">● validation loss</text>");
        return svg.Append("</svg>").ToString();
    }

    private static string FormatTokens(double x) => x >= 1e6 ? $"{x / 1e6:0.#}M" : x >= 1e3 ? $"{x / 1e3:0.#}k" : $"{x:0}";
}

using System.Text.Json;
using Pinpoint.Reports;

namespace Pinpoint.Training;

/// <summary>Draws metrics.jsonl as a self-contained SVG: training loss (thin line) and validation loss (dots) against tokens.</summary>
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
        var train = records.Where(r => r.TrainLoss is not null).Select(r => ((double)r.Tokens, r.TrainLoss!.Value)).ToList();
        var validation = records.Where(r => r.ValLoss is not null).Select(r => ((double)r.Tokens, r.ValLoss!.Value)).ToList();
        var chart = new XyChart("loss", "Loss vs tokens seen", "tokens", "loss",
            [new XySeries("train loss", train, "#4a7fd4"), new XySeries("validation loss", validation, "#d4574a", Dots: true)], FormatTokens);
        return Svg.Document(Svg.Render(chart));
    }

    private static string FormatTokens(double x) => x >= 1e6 ? $"{x / 1e6:0.#}M" : x >= 1e3 ? $"{x / 1e3:0.#}k" : $"{x:0}";
}

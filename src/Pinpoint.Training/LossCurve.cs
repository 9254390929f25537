using System.Text.Json;
using Pinpoint.Reports;

namespace Pinpoint.Training;

/// <summary>Draws metrics.jsonl as a self-contained SVG: training loss (thin line) and validation loss (dots) against tokens.</summary>
public static class LossCurve
{
    public static void Write(string metricsPath, string svgPath)
    {
        if (!File.Exists(metricsPath)) return;
        var records = File.ReadLines(metricsPath).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<MetricsRecord>(l, Trainer.MetricsJson)!).ToList();
        if (records.Count == 0) return;
        File.WriteAllText(svgPath, Render(records));
    }

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

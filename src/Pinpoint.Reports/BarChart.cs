namespace Pinpoint.Reports;

/// <summary>Equal-width bars (a histogram): one value and one tooltip per bar, labels under the left and right ends.</summary>
public sealed record BarChart(IReadOnlyList<double> Values, IReadOnlyList<string> Tooltips, string LeftLabel, string RightLabel, string Colour)
{
    private const int Width = 480, Height = 120;

    public HtmlFragment Render()
    {
        double peak = Math.Max(Values.DefaultIfEmpty(0).Max(), 1e-300);
        double bar = (double)Width / Math.Max(1, Values.Count);
        var bars = Values.Select((v, i) =>
        {
            double h = Height * Math.Max(0, v) / peak;
            return $"<rect x=\"{Html.Format(i * bar, "F1")}\" y=\"{Html.Format(Height - h, "F1")}\" width=\"{Html.Format(Math.Max(0.5, bar - 1), "F1")}\" height=\"{Html.Format(h, "F1")}\" fill=\"{Html.Escape(Colour)}\"><title>{Html.Escape(Tooltips[i])}</title></rect>";
        });
        return HtmlFragment.Trusted($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height + 16}\" role=\"img\"><g>{string.Concat(bars)}</g>"
            + $"<text x=\"0\" y=\"{Height + 13}\" font-size=\"11\">{Html.Escape(LeftLabel)}</text><text x=\"{Width}\" y=\"{Height + 13}\" font-size=\"11\" text-anchor=\"end\">{Html.Escape(RightLabel)}</text></svg>");
    }
}

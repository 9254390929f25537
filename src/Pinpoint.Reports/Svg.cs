using System.Globalization;
using System.Text;

namespace Pinpoint.Reports;

/// <summary>A grid of coloured cells. NaN cells have no value and are drawn grey (e.g. attention to later positions).</summary>
/// <param name="Id">Names the chart in the page (<c>data-chart</c>), for links and tests.</param>
/// <param name="ValueName">What a cell's number is, for tooltips ("share restored").</param>
/// <param name="MissingNote">Why NaN cells have no value, for their tooltips.</param>
public sealed record Heatmap(
    string Id, string Title, IReadOnlyList<string> RowLabels, IReadOnlyList<string> ColumnLabels, double[][] Values,
    ColourScale Scale, string ValueName, string MissingNote = "no value");

/// <param name="HalfWidths">Half-widths of each value's 95% confidence interval, drawn as a shaded band; null for exact values.</param>
public sealed record LineSeries(string Name, IReadOnlyList<double> Values, string Colour, bool Dashed = false, IReadOnlyList<double>? HalfWidths = null)
{
    public double Low(int i) => Values[i] - (HalfWidths?[i] ?? 0);
    public double High(int i) => Values[i] + (HalfWidths?[i] ?? 0);
}

/// <summary>Lines over shared x positions (layers, k), each point with a tooltip.</summary>
public sealed record LineChart(string Id, string Title, string YAxis, IReadOnlyList<string> XLabels, IReadOnlyList<LineSeries> Series);

public sealed record ScatterPoint(string Label, double X, double Y);

/// <summary>Points on equal x and y scales with the line y = x, for comparing an estimate (x) with what was measured (y).</summary>
public sealed record ScatterChart(string Id, string Title, string XAxis, string YAxis, IReadOnlyList<ScatterPoint> Points, string Colour);

/// <summary>Points at numeric x, drawn as a thin line or, with <paramref name="Dots"/>, as dots.</summary>
public sealed record XySeries(string Name, IReadOnlyList<(double X, double Y)> Points, string Colour, bool Dots = false);

/// <summary>Series over a numeric x axis (loss against tokens seen); <paramref name="FormatX"/> writes the x tick labels.</summary>
public sealed record XyChart(string Id, string Title, string XAxis, string YAxis, IReadOnlyList<XySeries> Series, Func<double, string> FormatX);

/// <summary>A node of a layered graph: drawn in column <paramref name="Column"/>, linking to <paramref name="Link"/> (an anchor in the page) when clicked.</summary>
public sealed record GraphNode(string Id, string Label, int Column, string Tooltip, string? Link = null);

/// <summary>A directed edge drawn with width by |<paramref name="Value"/>|, red when positive and blue when negative; <paramref name="Style"/> picks a dash pattern.</summary>
public sealed record GraphEdge(string From, string To, double Value, string Tooltip, int Style = 0);

/// <summary>Nodes in columns (layers) with edges from left to right.</summary>
/// <param name="Styles">What each dash style means, for the legend.</param>
public sealed record LayeredGraph(string Id, string Title, IReadOnlyList<string> Columns, IReadOnlyList<GraphNode> Nodes, IReadOnlyList<GraphEdge> Edges, IReadOnlyList<string> Styles);

/// <summary>Inline SVG charts (no scripts, no external resources); every label passes through <see cref="Html.Escape"/>.</summary>
public static class Svg
{
    private const double CharWidth = 7, TitleHeight = 26, MaxLabelChars = 16;
    private const int LegendSteps = 20;

    public static HtmlFragment Render(Heatmap map)
    {
        int rows = map.RowLabels.Count, cols = map.ColumnLabels.Count;
        // Small grids print each value in its cell; wide ones (long prompts) shrink to colour only.
        bool printValues = cols <= 16;
        double cellW = printValues ? 40 : Math.Clamp(640.0 / Math.Max(cols, 1), 10, 26), cellH = printValues ? 26 : cellW;
        var rowLabels = map.RowLabels.Select(Shorten).ToList();
        var colLabels = map.ColumnLabels.Select(Shorten).ToList();
        double left = rowLabels.Select(l => l.Length).DefaultIfEmpty(1).Max() * CharWidth + 10;
        // Column labels are rotated 45°: their length sets both the height above the grid and the overhang on the right.
        double labelReach = colLabels.Select(l => l.Length).DefaultIfEmpty(1).Max() * CharWidth * 0.71 + 10;
        double top = TitleHeight + labelReach;
        double gridRight = left + cols * cellW, legendX = gridRight + 24, legendH = Math.Max(100, Math.Min(rows * cellH, 180));
        double width = Math.Max(gridRight + labelReach, legendX + 70), height = top + Math.Max(rows * cellH, legendH) + 12;

        var svg = Open(map.Id, map.Title, width, height);
        for (int c = 0; c < cols; c++)
            svg.Append($"<text class=\"label\" transform=\"translate({F(left + (c + 0.5) * cellW)},{F(top - 6)}) rotate(-45)\">")
               .Append(Title(map.ColumnLabels[c])).Append(Html.Escape(colLabels[c])).Append("</text>");
        for (int r = 0; r < rows; r++)
        {
            double y = top + r * cellH;
            svg.Append($"<text class=\"label\" x=\"{F(left - 6)}\" y=\"{F(y + cellH / 2 + 4)}\" text-anchor=\"end\">")
               .Append(Title(map.RowLabels[r])).Append(Html.Escape(rowLabels[r])).Append("</text>");
            for (int c = 0; c < cols; c++)
            {
                double v = map.Values[r][c], x = left + c * cellW;
                bool missing = double.IsNaN(v);
                string tip = $"{map.RowLabels[r]} · {map.ColumnLabels[c]}: " + (missing ? map.MissingNote : $"{map.ValueName} {Html.Exact(v)}");
                svg.Append($"<rect class=\"cell\" x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(cellW)}\" height=\"{F(cellH)}\" fill=\"{(missing ? "#efefef" : map.Scale.Colour(v))}\">")
                   .Append(Title(tip)).Append("</rect>");
                if (printValues && !missing)
                    svg.Append($"<text class=\"value\" x=\"{F(x + cellW / 2)}\" y=\"{F(y + cellH / 2 + 4)}\" fill=\"{map.Scale.TextColour(v)}\">{Short(v)}</text>");
            }
        }
        AppendLegend(svg, map.Scale, legendX, top, legendH);
        return Close(svg);
    }

    public static HtmlFragment Render(LineChart chart)
    {
        const double height = 300, left = 64, top = TitleHeight + 28, bottom = 44;
        int points = chart.XLabels.Count;
        // The last x label is centred on the plot's right edge: half of it must fit in the margin.
        double right = Math.Max(24, Shorten(chart.XLabels.LastOrDefault() ?? "").Length * CharWidth / 2 + 8);
        double width = Math.Max(440, left + right + points * 56);
        var finite = chart.Series.SelectMany(s => s.Values.SelectMany((_, i) => new[] { s.Low(i), s.High(i) })).Where(double.IsFinite).ToList();
        // Always show 0, so the sign of every value reads at a glance.
        var (yMin, yMax, step, decimals) = Ticks(Math.Min(0, finite.DefaultIfEmpty(0).Min()), Math.Max(0, finite.DefaultIfEmpty(0).Max()));
        double plotW = width - left - right, plotH = height - top - bottom;
        double Px(int i) => left + (points <= 1 ? plotW / 2 : plotW * i / (points - 1));
        double Py(double y) => top + plotH * (1 - (y - yMin) / (yMax - yMin));

        var svg = Open(chart.Id, chart.Title, width, height);
        for (double y = yMin; y <= yMax + step / 2; y += step)
            svg.Append($"<line x1=\"{F(left)}\" x2=\"{F(width - right)}\" y1=\"{F(Py(y))}\" y2=\"{F(Py(y))}\" stroke=\"#eeeeee\"/>")
               .Append($"<text class=\"label\" x=\"{F(left - 6)}\" y=\"{F(Py(y) + 4)}\" text-anchor=\"end\">{Fixed(y, decimals)}</text>");
        svg.Append($"<line x1=\"{F(left)}\" x2=\"{F(width - right)}\" y1=\"{F(Py(0))}\" y2=\"{F(Py(0))}\" stroke=\"#888888\"/>");
        for (int i = 0; i < points; i++)
            svg.Append($"<text class=\"label\" x=\"{F(Px(i))}\" y=\"{F(height - bottom + 18)}\" text-anchor=\"middle\">")
               .Append(Title(chart.XLabels[i])).Append(Html.Escape(Shorten(chart.XLabels[i]))).Append("</text>");
        svg.Append($"<text class=\"label\" transform=\"translate(14,{F(top + plotH / 2)}) rotate(-90)\" text-anchor=\"middle\">{Html.Escape(chart.YAxis)}</text>");

        double legendX = left;
        foreach (var s in chart.Series)
        {
            string dash = s.Dashed ? " stroke-dasharray=\"6 4\"" : "";
            if (s.HalfWidths is not null)
            {
                var inside = Enumerable.Range(0, s.Values.Count).Where(i => double.IsFinite(s.Low(i)) && double.IsFinite(s.High(i))).ToList();
                var band = inside.Select(i => $"{F(Px(i))},{F(Py(s.High(i)))}").Concat(Enumerable.Reverse(inside).Select(i => $"{F(Px(i))},{F(Py(s.Low(i)))}"));
                svg.Append($"<polygon class=\"band\" fill=\"{s.Colour}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{string.Join(' ', band)}\"/>");
            }
            var line = string.Join(' ', s.Values.Select((v, i) => (v, i)).Where(p => double.IsFinite(p.v)).Select(p => $"{F(Px(p.i))},{F(Py(p.v))}"));
            svg.Append($"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"2\"{dash} points=\"{line}\"/>");
            for (int i = 0; i < s.Values.Count; i++)
                if (double.IsFinite(s.Values[i]))
                    svg.Append($"<circle cx=\"{F(Px(i))}\" cy=\"{F(Py(s.Values[i]))}\" r=\"4\" fill=\"{s.Colour}\">")
                       .Append(Title($"{s.Name}, {chart.XLabels[i]}: {Html.Exact(s.Values[i])}" + (s.HalfWidths is null ? "" : $" ± {Html.Exact(s.HalfWidths[i])} (95% CI)")))
                       .Append("</circle>");
            svg.Append($"<line x1=\"{F(legendX)}\" x2=\"{F(legendX + 22)}\" y1=\"{F(TitleHeight + 8)}\" y2=\"{F(TitleHeight + 8)}\" stroke=\"{s.Colour}\" stroke-width=\"2\"{dash}/>")
               .Append($"<text class=\"label\" x=\"{F(legendX + 28)}\" y=\"{F(TitleHeight + 12)}\">{Html.Escape(s.Name)}</text>");
            legendX += 40 + s.Name.Length * CharWidth;
        }
        return Close(svg);
    }

    public static HtmlFragment Render(ScatterChart chart)
    {
        const double plot = 240, left = 64, top = TitleHeight + 12, bottom = 44, right = 24;
        var finite = chart.Points.SelectMany(p => new[] { p.X, p.Y }).Where(double.IsFinite).ToList();
        // One range for both axes, so the y = x line is the diagonal and distance from it reads as error.
        var (min, max, step, decimals) = Ticks(Math.Min(0, finite.DefaultIfEmpty(0).Min()), Math.Max(0, finite.DefaultIfEmpty(0).Max()));
        double width = left + plot + right, height = top + plot + bottom;
        double Px(double x) => left + plot * (x - min) / (max - min);
        double Py(double y) => top + plot * (1 - (y - min) / (max - min));

        var svg = Open(chart.Id, chart.Title, width, height);
        for (double v = min; v <= max + step / 2; v += step)
            svg.Append($"<line x1=\"{F(left)}\" x2=\"{F(left + plot)}\" y1=\"{F(Py(v))}\" y2=\"{F(Py(v))}\" stroke=\"#eeeeee\"/>")
               .Append($"<line x1=\"{F(Px(v))}\" x2=\"{F(Px(v))}\" y1=\"{F(top)}\" y2=\"{F(top + plot)}\" stroke=\"#eeeeee\"/>")
               .Append($"<text class=\"label\" x=\"{F(left - 6)}\" y=\"{F(Py(v) + 4)}\" text-anchor=\"end\">{Fixed(v, decimals)}</text>")
               .Append($"<text class=\"label\" x=\"{F(Px(v))}\" y=\"{F(top + plot + 16)}\" text-anchor=\"middle\">{Fixed(v, decimals)}</text>");
        svg.Append($"<line class=\"identity\" x1=\"{F(Px(min))}\" y1=\"{F(Py(min))}\" x2=\"{F(Px(max))}\" y2=\"{F(Py(max))}\" stroke=\"#888888\" stroke-dasharray=\"4 4\"><title>y = x</title></line>");
        svg.Append($"<text class=\"label\" x=\"{F(left + plot / 2)}\" y=\"{F(height - 8)}\" text-anchor=\"middle\">{Html.Escape(chart.XAxis)}</text>")
           .Append($"<text class=\"label\" transform=\"translate(14,{F(top + plot / 2)}) rotate(-90)\" text-anchor=\"middle\">{Html.Escape(chart.YAxis)}</text>");
        foreach (var p in chart.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)))
            svg.Append($"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"4\" fill=\"{chart.Colour}\" fill-opacity=\"0.75\">")
               .Append(Title($"{p.Label}: {chart.XAxis} {Html.Exact(p.X)}, {chart.YAxis} {Html.Exact(p.Y)}")).Append("</circle>");
        return Close(svg);
    }

    public static HtmlFragment Render(XyChart chart)
    {
        const double width = 720, height = 420, left = 64, right = 24, top = TitleHeight + 28, bottom = 50;
        var points = chart.Series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        // y spans the data (losses sit far from 0); x starts at 0.
        var (yMin, yMax, yStep, yDecimals) = Ticks(points.Select(p => p.Y).DefaultIfEmpty(0).Min(), points.Select(p => p.Y).DefaultIfEmpty(1).Max());
        var (_, xMax, xStep, _) = Ticks(0, points.Select(p => p.X).DefaultIfEmpty(1).Max());
        double plotW = width - left - right, plotH = height - top - bottom;
        double Px(double x) => left + plotW * x / xMax;
        double Py(double y) => top + plotH * (1 - (y - yMin) / (yMax - yMin));

        var svg = Open(chart.Id, chart.Title, width, height);
        for (double y = yMin; y <= yMax + yStep / 2; y += yStep)
            svg.Append($"<line x1=\"{F(left)}\" x2=\"{F(width - right)}\" y1=\"{F(Py(y))}\" y2=\"{F(Py(y))}\" stroke=\"#eeeeee\"/>")
               .Append($"<text class=\"label\" x=\"{F(left - 6)}\" y=\"{F(Py(y) + 4)}\" text-anchor=\"end\">{Fixed(y, yDecimals)}</text>");
        for (double x = 0; x <= xMax + xStep / 2; x += xStep)
            svg.Append($"<text class=\"label\" x=\"{F(Px(x))}\" y=\"{F(height - bottom + 18)}\" text-anchor=\"middle\">{Html.Escape(chart.FormatX(x))}</text>");
        svg.Append($"<text class=\"label\" x=\"{F(left + plotW / 2)}\" y=\"{F(height - 10)}\" text-anchor=\"middle\">{Html.Escape(chart.XAxis)}</text>")
           .Append($"<text class=\"label\" transform=\"translate(14,{F(top + plotH / 2)}) rotate(-90)\" text-anchor=\"middle\">{Html.Escape(chart.YAxis)}</text>");

        double legendX = left;
        foreach (var s in chart.Series)
        {
            var finite = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (s.Dots)
            {
                foreach (var p in finite)
                    svg.Append($"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"3\" fill=\"{s.Colour}\">")
                       .Append(Title($"{s.Name} at {chart.FormatX(p.X)}: {Html.Exact(p.Y)}")).Append("</circle>");
                svg.Append($"<circle cx=\"{F(legendX + 11)}\" cy=\"{F(TitleHeight + 8)}\" r=\"3\" fill=\"{s.Colour}\"/>");
            }
            else
            {
                svg.Append($"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"1\" points=\"{string.Join(' ', finite.Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}"))}\"/>");
                svg.Append($"<line x1=\"{F(legendX)}\" x2=\"{F(legendX + 22)}\" y1=\"{F(TitleHeight + 8)}\" y2=\"{F(TitleHeight + 8)}\" stroke=\"{s.Colour}\" stroke-width=\"2\"/>");
            }
            svg.Append($"<text class=\"label\" x=\"{F(legendX + 28)}\" y=\"{F(TitleHeight + 12)}\">{Html.Escape(s.Name)}</text>");
            legendX += 40 + s.Name.Length * CharWidth;
        }
        return Close(svg);
    }

    /// <summary>A chart as a self-contained .svg file: the namespace and the chart styles a report page would supply.</summary>
    public static string Document(HtmlFragment chart)
    {
        const string open = "<svg class=\"chart\"";
        if (!chart.Markup.StartsWith(open, StringComparison.Ordinal)) throw new ArgumentException("not a chart from Svg.Render", nameof(chart));
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"" + chart.Markup[open.Length..].Replace("</svg>", Style + "</svg>") + "\n";
    }

    /// <summary>The chart styles, for pages that show charts and for standalone files.</summary>
    public const string Css = """
        svg.chart text { font-size: 12px; font-family: inherit; }
        svg.chart .chart-title { font-size: 14px; font-weight: 600; }
        svg.chart .value { font-size: 11px; text-anchor: middle; }
        """;

    private const string Style = "<style>svg.chart { font-family: sans-serif; background: white; } " + Css + "</style>";

    /// <summary>A vertical colour bar from the scale's maximum (top) to its minimum, with 0 marked on diverging scales.</summary>
    private static void AppendLegend(StringBuilder svg, ColourScale scale, double x, double y, double height)
    {
        double step = height / LegendSteps;
        for (int i = 0; i < LegendSteps; i++)
        {
            double v = scale.Max - (scale.Max - scale.Min) * (i + 0.5) / LegendSteps;
            svg.Append($"<rect class=\"legend\" x=\"{F(x)}\" y=\"{F(y + i * step)}\" width=\"14\" height=\"{F(step + 0.5)}\" fill=\"{scale.Colour(v)}\"/>");
        }
        svg.Append($"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"14\" height=\"{F(height)}\" fill=\"none\" stroke=\"#999999\"/>");
        void Tick(double v, double ty) => svg.Append($"<text class=\"label\" x=\"{F(x + 20)}\" y=\"{F(ty + 4)}\">{Short(v)}</text>");
        Tick(scale.Max, y);
        if (scale.Diverging) Tick(0, y + height / 2);
        Tick(scale.Min, y + height);
    }

    private static readonly string[] Dashes = ["", " stroke-dasharray=\"7 4\"", " stroke-dasharray=\"2 3\"", " stroke-dasharray=\"10 3 2 3\""];

    public static HtmlFragment Render(LayeredGraph graph)
    {
        const double columnWidth = 150, rowHeight = 46, nodeWidth = 96, nodeHeight = 26, top = TitleHeight + 44, left = 20;
        var byColumn = graph.Nodes.GroupBy(n => n.Column).ToDictionary(g => g.Key, g => g.ToList());
        int rows = byColumn.Values.Select(c => c.Count).DefaultIfEmpty(1).Max();
        double width = Math.Max(440, left * 2 + graph.Columns.Count * columnWidth), height = top + rows * rowHeight + 20;
        var at = new Dictionary<string, (double X, double Y)>();
        foreach (var (column, nodes) in byColumn)
            for (int i = 0; i < nodes.Count; i++)
                at[nodes[i].Id] = (left + column * columnWidth + (columnWidth - nodeWidth) / 2, top + (rows - nodes.Count) * rowHeight / 2 + i * rowHeight);

        var svg = Open(graph.Id, graph.Title, width, height);
        double legendX = 4;
        for (int s = 0; s < graph.Styles.Count; s++)
        {
            svg.Append($"<line x1=\"{F(legendX)}\" x2=\"{F(legendX + 26)}\" y1=\"{F(TitleHeight + 8)}\" y2=\"{F(TitleHeight + 8)}\" stroke=\"#555555\" stroke-width=\"2\"{Dashes[s % Dashes.Length]}/>")
               .Append($"<text class=\"label\" x=\"{F(legendX + 32)}\" y=\"{F(TitleHeight + 12)}\">{Html.Escape(graph.Styles[s])}</text>");
            legendX += 44 + graph.Styles[s].Length * CharWidth;
        }
        svg.Append($"<text class=\"label\" x=\"{F(legendX)}\" y=\"{F(TitleHeight + 12)}\">width: |value|; red raises, blue lowers the metric</text>");
        for (int c = 0; c < graph.Columns.Count; c++)
            svg.Append($"<text class=\"label\" x=\"{F(left + c * columnWidth + columnWidth / 2)}\" y=\"{F(top - 14)}\" text-anchor=\"middle\">{Html.Escape(graph.Columns[c])}</text>");
        double largest = graph.Edges.Select(e => Math.Abs(e.Value)).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        foreach (var e in graph.Edges.OrderBy(e => Math.Abs(e.Value)))
        {
            if (!at.TryGetValue(e.From, out var a) || !at.TryGetValue(e.To, out var b)) continue;
            double x1 = a.X + nodeWidth, y1 = a.Y + nodeHeight / 2, x2 = b.X, y2 = b.Y + nodeHeight / 2, bend = Math.Max(30, (x2 - x1) / 2);
            double w = largest > 0 && double.IsFinite(e.Value) ? 0.8 + 6 * Math.Abs(e.Value) / largest : 0.8;
            string colour = e.Value >= 0 ? Palette.Red : Palette.Blue;
            svg.Append($"<path class=\"edge\" d=\"M{F(x1)},{F(y1)} C{F(x1 + bend)},{F(y1)} {F(x2 - bend)},{F(y2)} {F(x2)},{F(y2)}\" fill=\"none\" stroke=\"{colour}\" stroke-opacity=\"0.75\" stroke-width=\"{F(w)}\"{Dashes[e.Style % Dashes.Length]}>")
               .Append(Title(e.Tooltip)).Append("</path>");
        }
        foreach (var n in graph.Nodes)
        {
            var (x, y) = at[n.Id];
            if (n.Link is not null) svg.Append($"<a href=\"{Html.Escape(n.Link)}\">");
            svg.Append($"<g class=\"node\" data-node=\"{Html.Escape(n.Id)}\">{Title(n.Tooltip)}")
               .Append($"<rect x=\"{F(x)}\" y=\"{F(y)}\" width=\"{F(nodeWidth)}\" height=\"{F(nodeHeight)}\" rx=\"5\" fill=\"#f6f6f8\" stroke=\"#666666\"/>")
               .Append($"<text class=\"label\" x=\"{F(x + nodeWidth / 2)}\" y=\"{F(y + nodeHeight / 2 + 4)}\" text-anchor=\"middle\">{Html.Escape(Shorten(n.Label))}</text></g>");
            if (n.Link is not null) svg.Append("</a>");
        }
        return Close(svg);
    }

    private static StringBuilder Open(string id, string title, double width, double height) =>
        new StringBuilder()
            .Append($"<svg class=\"chart\" data-chart=\"{Html.Escape(id)}\" width=\"{F(width)}\" height=\"{F(height)}\" viewBox=\"0 0 {F(width)} {F(height)}\" role=\"img\" aria-label=\"{Html.Escape(title)}\">")
            .Append($"<text class=\"chart-title\" x=\"4\" y=\"17\">{Html.Escape(title)}</text>");

    private static HtmlFragment Close(StringBuilder svg) => HtmlFragment.Trusted(svg.Append("</svg>").ToString());

    /// <summary>An SVG tooltip: browsers show a parent's &lt;title&gt; on hover.</summary>
    private static string Title(string text) => $"<title>{Html.Escape(text)}</title>";

    private static string Shorten(string label) => label.Length <= MaxLabelChars ? label : label[..(int)(MaxLabelChars - 1)] + "…";

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>Axis bounds on round numbers: a step of 1, 2 or 5 times a power of ten, about four steps from min to max.</summary>
    private static (double Min, double Max, double Step, int Decimals) Ticks(double min, double max)
    {
        if (max - min < 1e-12) max = min + 1;
        double raw = (max - min) / 4, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.First(m => m * magnitude >= raw * (1 - 1e-9)) * magnitude;
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        return (Math.Floor(min / step + 1e-9) * step, Math.Ceiling(max / step - 1e-9) * step, step, decimals);
    }

    /// <summary>A value short enough for a cell or a legend tick.</summary>
    private static string Short(double v) => Fixed(v, Math.Abs(v) >= 100 ? 0 : Math.Abs(v) >= 10 ? 1 : 2);

    private static string Fixed(double v, int decimals)
    {
        var text = Html.Format(v, "F" + decimals);
        return text.TrimStart('-').All(ch => ch is '0' or '.') ? text.TrimStart('-') : text; // no "-0.00"
    }
}

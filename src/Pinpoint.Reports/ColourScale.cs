namespace Pinpoint.Reports;

/// <summary>Maps values to fill colours, from <see cref="Min"/> to <see cref="Max"/> (values outside are clamped).</summary>
public sealed record ColourScale(double Min, double Max, bool Diverging)
{
    // ColorBrewer RdBu ends and a near-white middle: blue for negative, red for positive.
    private static readonly (int R, int G, int B)[] NegativeStops = [(247, 247, 247), (146, 197, 222), (33, 102, 172)];
    private static readonly (int R, int G, int B)[] PositiveStops = [(247, 247, 247), (244, 165, 130), (178, 24, 43)];
    // Light to dark purple for quantities that cannot be negative (attention weights).
    private static readonly (int R, int G, int B)[] SequentialStops = [(252, 251, 253), (158, 154, 200), (63, 0, 125)];

    /// <summary>Centred at 0 and symmetric, so equal magnitudes of either sign get equally strong colours.</summary>
    public static ColourScale DivergingFor(IEnumerable<double> values)
    {
        double max = values.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        if (max < 1e-12) max = 1;
        return new ColourScale(-max, max, Diverging: true);
    }

    public static ColourScale Sequential(double max) => new(0, max, Diverging: false);

    /// <summary>How strong the colour is, 0 (white) to 1 (darkest).</summary>
    public double Intensity(double value)
    {
        double t = Diverging ? value / Max : (value - Min) / (Max - Min);
        return Math.Clamp(Math.Abs(t), 0, 1);
    }

    public string Colour(double value)
    {
        var stops = !Diverging ? SequentialStops : value < 0 ? NegativeStops : PositiveStops;
        double t = Intensity(value) * (stops.Length - 1);
        int i = Math.Min((int)t, stops.Length - 2);
        double f = t - i;
        int Mix(int a, int b) => (int)Math.Round(a + (b - a) * f);
        return $"#{Mix(stops[i].R, stops[i + 1].R):x2}{Mix(stops[i].G, stops[i + 1].G):x2}{Mix(stops[i].B, stops[i + 1].B):x2}";
    }

    /// <summary>Dark cells get white text so printed values stay readable.</summary>
    public string TextColour(double value) => Intensity(value) > 0.6 ? "#ffffff" : "#222222";
}

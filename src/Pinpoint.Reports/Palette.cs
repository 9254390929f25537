namespace Pinpoint.Reports;

/// <summary>The line and mark colours every report shares: red for what raises a metric (or the top k), blue for what lowers it, grey for baselines.</summary>
public static class Palette
{
    public const string Red = "#c0392b", Grey = "#7f8c8d", Blue = "#2166ac";
}

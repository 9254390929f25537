using Pinpoint.Interpretability.Explain;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// A store made small enough to ship beside a model: every context activation clamped at 0 and rounded to a decimal
/// step of 0.1–1% of its unit's maximum (a per-unit int8-like scale: tokens are shaded by the positive part only, so
/// no more is shown), summary numbers and logit-effect scores to four significant digits; the contexts' own activation
/// (the ranking value) is rounded but not clamped. The JSON it serializes to repeats short numbers and token ids,
/// which Brotli compresses well (<see cref="DashboardFiles.Write"/> with <c>compact</c>).
/// </summary>
public static class DashboardCompaction
{
    public static DashboardStore Compact(DashboardStore store) => store with { Units = store.Units.Select(Compact).ToList() };

    private static UnitDashboard Compact(UnitDashboard unit)
    {
        int decimals = ContextDecimals(unit.MaxActivation);
        ActivatingContext Context(ActivatingContext c) => c with
        {
            Activation = Round(c.Activation, decimals),
            Activations = c.Activations.Select(a => Round(Math.Max(0f, a), decimals)).ToArray(),
        };
        IReadOnlyList<TokenScore>? Scores(IReadOnlyList<TokenScore>? scores) => scores?.Select(s => s with { Score = Significant(s.Score) }).ToList();
        return unit with
        {
            MaxActivation = Significant(unit.MaxActivation),
            MeanActivation = Significant(unit.MeanActivation),
            Density = Significant(unit.Density),
            Top = unit.Top.Select(Context).ToList(),
            Intervals = unit.Intervals.Select(i => i with { Contexts = i.Contexts.Select(Context).ToList() }).ToList(),
            Promotes = Scores(unit.Promotes),
            Suppresses = Scores(unit.Suppresses),
        };
    }

    /// <summary>Decimal places whose step is 0.1–1% of <paramref name="max"/> (3 where the unit never fired, so nothing is lost).</summary>
    internal static int ContextDecimals(double max) =>
        max > 0 && double.IsFinite(max) ? Math.Clamp(2 - (int)Math.Floor(Math.Log10(max)), 0, 15) : 3;

    private static float Round(float v, int decimals) => float.IsFinite(v) ? (float)Math.Round(v, decimals) : v;

    private static double Significant(double v) =>
        v == 0 || !double.IsFinite(v) ? v : Math.Round(v, Math.Clamp(3 - (int)Math.Floor(Math.Log10(Math.Abs(v))), 0, 15));
}

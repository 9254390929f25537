namespace Pinpoint.Interpretability.Dashboards;

/// <summary>How much a dashboard keeps per unit; every size is fixed, so memory never grows with the corpus.</summary>
public sealed record DashboardOptions
{
    /// <summary>Top-activating contexts kept per unit.</summary>
    public int Top { get; init; } = 20;
    /// <summary>Tokens kept on each side of a context's activating token.</summary>
    public int Radius { get; init; } = 10;
    /// <summary>Equal-width activation intervals sampled from (SAEDashboard style); must be even so two intervals merge into one when the range doubles.</summary>
    public int Intervals { get; init; } = 10;
    /// <summary>Contexts sampled uniformly from each interval.</summary>
    public int SamplesPerInterval { get; init; } = 3;
    /// <summary>Histogram bins per interval.</summary>
    public int BinsPerInterval { get; init; } = 4;
    /// <summary>Tokens listed at each end of a unit's logit effect.</summary>
    public int LogitTokens { get; init; } = 10;

    public int Bins => Intervals * BinsPerInterval;

    public void Check()
    {
        if (Top < 1) throw new ArgumentException($"top {Top}: keep at least one context per unit");
        if (Radius < 0) throw new ArgumentException($"radius {Radius}: it must be 0 or more");
        if (Intervals < 2 || Intervals % 2 != 0) throw new ArgumentException($"intervals {Intervals}: it must be an even number of at least 2");
        if (SamplesPerInterval < 0) throw new ArgumentException($"samples per interval {SamplesPerInterval}: it must be 0 or more");
        if (BinsPerInterval < 1) throw new ArgumentException($"bins per interval {BinsPerInterval}: it must be at least 1");
        if (LogitTokens < 0) throw new ArgumentException($"logit tokens {LogitTokens}: it must be 0 or more");
    }
}

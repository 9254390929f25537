using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;

namespace Pinpoint.Tests.Circuits;

/// <summary>Long library calls stop on a cancelled token, and report their progress while they run.</summary>
public class CancellationTests
{
    private static LoadedModel Embedded() => ModelLoader.Load(Path.Combine(AppContext.BaseDirectory, "models", "default"));

    [Fact]
    public void CancelledCallsStopBeforeWorking()
    {
        using var loaded = Embedded();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var item = ExplainRequest.ArticleExample;
        Assert.Throws<OperationCanceledException>(() => Explainer.Explain(loaded, item, cancel: cancelled.Token));
        Assert.Throws<OperationCanceledException>(() => DatasetExplainer.Explain(loaded, [new ScoreItem(item.Prompt, item.Target, item.Foil, Counterfactual: item.Counterfactual)], cancel: cancelled.Token));
        Assert.Throws<OperationCanceledException>(() => CircuitExplainer.Explain(loaded, [item], new CircuitOptions { Edges = 5 }, cancel: cancelled.Token));
    }

    [Fact]
    public void CircuitCancelledMidwayStopsAtTheNextStep()
    {
        using var loaded = Embedded();
        using var source = new CancellationTokenSource();
        var phases = new List<string>();
        // Cancel as soon as the curve's points are measured on the first item: no further measurement may be made.
        Assert.Throws<OperationCanceledException>(() => CircuitExplainer.Explain(loaded, [ExplainRequest.ArticleExample], new CircuitOptions { Edges = 5, CurvePoints = 5 },
            progress: (phase, done, total) =>
            {
                phases.Add($"{phase} {done}/{total}");
                if (phase.StartsWith("faithfulness curve", StringComparison.Ordinal)) source.Cancel();
            }, cancel: source.Token));
        Assert.Equal(["edge attribution 1/1", "faithfulness curve, points 1–5 of 5, items 1/1"], phases);
    }
}

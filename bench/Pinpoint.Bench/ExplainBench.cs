using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pinpoint.Engine.Autograd;
using Pinpoint.Interpretability.Circuits;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Bench;

/// <summary>
/// Cost of explain on the embedded model (models/default) and its built-in article example, in plain forward passes
/// of the same prompt measured in the same run (full logits, and the last position only, which is all a logit
/// difference needs): attribution patching (every head, layer and position from one
/// forward with cache plus one forward and backward) against activation patching (one forward per cell), edge
/// attribution patching over every edge of the circuit graph (the same passes, with each head's query, key and value
/// projected from its own input), and the whole default explanation (load included, as <c>./pinpoint explain</c> does it).
/// </summary>
public static class ExplainBench
{
    private const int Repetitions = 15;
    private const int WarmUpRounds = 40;

    public static int Run(bool json, bool quick = false)
    {
        var modelDir = Path.Combine(BenchPaths.RepoRoot(), "models", "default");
        if (quick) return RunQuick(modelDir, json);
        var clock = Stopwatch.StartNew();
        ExplainReport report;
        using (var cold = ModelLoader.Load(modelDir)) report = Explainer.Explain(cold, ExplainRequest.ArticleExample);
        double explainSeconds = clock.Elapsed.TotalSeconds;

        using var loaded = ModelLoader.Load(modelDir);
        var model = loaded.Model;
        var prediction = Prediction.Prepare(loaded, ExplainRequest.ArticleExample);
        var batch = prediction.Run;
        var edges = new EdgeForward(model);
        var best = BenchTiming.BestSeconds(Repetitions, WarmUpRounds,
            () => model.Forward(Compute.Eager, batch),
            () => model.Forward(Compute.Eager, batch, lastPositionOnly: true),
            () => AttributionPatching.Run(model, prediction.Run, prediction.CounterfactualRun, prediction.Metric, PatchDirection.Denoise),
            () => ActivationPatching.Run(model, prediction.Run, prediction.CounterfactualRun, prediction.Metric, PatchDirection.Denoise),
            () => EdgeAttribution.Scores(edges, prediction.Run, prediction.CounterfactualRun, prediction.Metric));
        var (forward, lastOnly, attribution, activation, edgeAttribution) = (best[0], best[1], best[2], best[3], best[4]);
        int cells = Explainer.Cells(report.Denoising).Count;

        double saved = DatasetNoisingSaving(loaded);
        var r = new Result(prediction.Ids.Length, cells, forward, lastOnly, attribution, activation, edges.Graph.Edges.Count, edgeAttribution, saved, explainSeconds);
        Console.WriteLine(json ? r.Json() : r.Table());
        return 0;
    }

    /// <summary>
    /// The small kernels' share only (plain forward, last-position forward, attribution patching, edge attribution): what the worker pool's
    /// per-loop overhead shows in, and short enough to repeat and alternate with another build on a loaded machine.
    /// </summary>
    private static int RunQuick(string modelDir, bool json)
    {
        using var loaded = ModelLoader.Load(modelDir);
        var model = loaded.Model;
        var prediction = Prediction.Prepare(loaded, ExplainRequest.ArticleExample);
        var batch = prediction.Run;
        var edges = new EdgeForward(model);
        var best = BenchTiming.BestSeconds(Repetitions * 2, WarmUpRounds,
            () => model.Forward(Compute.Eager, batch),
            () => model.Forward(Compute.Eager, batch, lastPositionOnly: true),
            () => AttributionPatching.Run(model, prediction.Run, prediction.CounterfactualRun, prediction.Metric, PatchDirection.Denoise),
            () => EdgeAttribution.Scores(edges, prediction.Run, prediction.CounterfactualRun, prediction.Metric));
        var (forward, lastOnly, attribution, edgeAttribution) = (best[0], best[1], best[2], best[3]);
        Console.WriteLine(json
            ? string.Create(CultureInfo.InvariantCulture,
                $"{{\"tokens\":{prediction.Ids.Length},\"forward_ms\":{forward * 1e3:F3},\"last_position_forward_ms\":{lastOnly * 1e3:F3},\"attribution_patching_ms\":{attribution * 1e3:F3},\"edge_attribution_ms\":{edgeAttribution * 1e3:F3},\"edge_attribution_forward_equivalents\":{edgeAttribution / forward:F2}}}")
            : string.Create(CultureInfo.InvariantCulture,
                $"explain --quick on models/default, built-in example ({prediction.Ids.Length} tokens)\n  plain forward           {forward * 1e3,10:F2} ms\n  forward, last position  {lastOnly * 1e3,10:F2} ms\n  attribution patching    {attribution * 1e3,10:F2} ms\n  edge attribution (EAP)  {edgeAttribution * 1e3,10:F2} ms  = {edgeAttribution / forward:F2} forward passes"));
        return 0;
    }

    /// <summary>Items of evals/articles.jsonl on which dataset explain's noising patching is timed with and without the residual grid.</summary>
    private const int DatasetSample = 20;

    /// <summary>
    /// Seconds dataset explain saves per item by not computing the residual × position grid of its noising run (which it
    /// never used): that run with every cell minus the run with heads and outputs only, summed over the sample and averaged.
    /// </summary>
    private static double DatasetNoisingSaving(LoadedModel loaded)
    {
        var items = Pinpoint.Interpretability.Evaluation.EvalDataset.ReadScoreItems(Path.Combine(BenchPaths.RepoRoot(), "evals", "articles.jsonl")).Take(DatasetSample)
            .Select(i => Prediction.Prepare(loaded, new ExplainRequest(i.Prompt, i.Target, i.Foil, i.Counterfactual))).ToList();
        double Total(PatchingCells cells)
        {
            var clock = Stopwatch.StartNew();
            foreach (var p in items) ActivationPatching.Run(loaded.Model, p.Ids, p.CounterfactualIds, p.Readout, PatchDirection.Noise, cells);
            return clock.Elapsed.TotalSeconds;
        }
        Total(PatchingCells.All); // warm-up
        var best = Enumerable.Range(0, 3).Select(_ => Total(PatchingCells.All) - Total(PatchingCells.Outputs | PatchingCells.Heads)).Min();
        return best / items.Count;
    }

    private sealed record Result(int Tokens, int Cells, double Forward, double LastOnly, double Attribution, double Activation, int Edges, double EdgeAttribution,
        double DatasetSavedPerItem, double Explain)
    {
        public string Json() => string.Create(CultureInfo.InvariantCulture,
            $"{{\"tokens\":{Tokens},\"cells\":{Cells},\"forward_ms\":{Forward * 1e3:F3},\"last_position_forward_ms\":{LastOnly * 1e3:F3},\"attribution_patching_ms\":{Attribution * 1e3:F3},\"attribution_patching_forward_equivalents\":{Attribution / Forward:F2},\"attribution_patching_last_position_forward_equivalents\":{Attribution / LastOnly:F2},\"activation_patching_ms\":{Activation * 1e3:F3},\"activation_patching_forward_equivalents\":{Activation / Forward:F2},\"edges\":{Edges},\"edge_attribution_ms\":{EdgeAttribution * 1e3:F3},\"edge_attribution_forward_equivalents\":{EdgeAttribution / Forward:F2},\"dataset_residual_grid_saved_ms_per_item\":{DatasetSavedPerItem * 1e3:F1},\"default_explain_s\":{Explain:F2}}}");

        public string Table()
        {
            var sb = new StringBuilder();
            sb.AppendLine(CultureInfo.InvariantCulture, $"explain on models/default, built-in example ({Tokens} tokens, {Cells} patching cells)");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  plain forward           {Forward * 1e3,10:F2} ms");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  forward, last position  {LastOnly * 1e3,10:F2} ms  (unembedding one position, as patching does)");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  attribution patching    {Attribution * 1e3,10:F2} ms  = {Attribution / Forward:F2} forward passes ({Attribution / LastOnly:F2} last-position ones)");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  activation patching     {Activation * 1e3,10:F2} ms  = {Activation / Forward:F2} forward passes");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  edge attribution (EAP)  {EdgeAttribution * 1e3,10:F2} ms  = {EdgeAttribution / Forward:F2} forward passes, all {Edges} edges");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  dataset explain saves  {DatasetSavedPerItem * 1e3,10:F1} ms per item (no residual grid in its noising run; first {DatasetSample} articles)");
            sb.Append(CultureInfo.InvariantCulture, $"  whole default explain   {Explain,10:F2} s (load, JIT and every method)");
            return sb.ToString();
        }
    }
}

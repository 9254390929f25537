using Pinpoint.Interpretability.Dashboards;
using Pinpoint.Reports;

namespace Pinpoint.Interpretability.Reports;

/// <summary>Dashboard pages: an index of a store's units (sortable by density and maximum activation) and one page per unit.</summary>
public static class DashboardHtmlReport
{
    /// <summary>The index page's file name: HOOK.html (HOOK.features.html for SAE features).</summary>
    public static string IndexPage(DashboardStore store) => Prefix(store) + ".html";

    /// <summary>A unit page's file name, relative to the index: HOOK/UNIT.html.</summary>
    public static string UnitPage(DashboardStore store, int unit) => $"{Prefix(store)}/{unit}.html";

    private static string Prefix(DashboardStore store) => Path.GetFileNameWithoutExtension(DashboardFiles.FileName(store.Hook, store.Kind));

    public static string Index(DashboardStore store)
    {
        var rows = store.Units.Select(u => (IReadOnlyList<HtmlFragment>)
        [
            Html.Element("a", $"{store.Kind} {u.Unit}", ("href", UnitPage(store, u.Unit))),
            SortableTable.Number(u.MaxActivation, "F3"),
            SortableTable.Number(u.Density, "P2"),
            SortableTable.Number(u.MeanActivation, "F3"),
            u.Top.Count == 0 ? "—" : Html.Token(store.Text(u.Top[0].Tokens[u.Top[0].Focus])),
            u.Promotes is { Count: > 0 } p ? Html.Token(p[0].Token) : "—",
        ]);
        var table = SortableTable.Render($"{store.Units.Count} {store.Kind}s at {store.Hook}; click a column to sort",
            ["unit", "max activation", "density", "mean when > 0", "top token", "top promoted"], rows);
        return Html.Document($"pinpoint dashboards {store.Hook}", ReportParts.Css + Css,
            [Html.Element("h1", $"{store.Hook}: {store.Kind} dashboards"), Summary(store), table]);
    }

    public static string Unit(DashboardStore store, UnitDashboard u)
    {
        double shade = u.Top.Count > 0 && u.MaxActivation > 0 ? u.MaxActivation : 1;
        var scale = ColourScale.Sequential(shade);
        var body = new List<HtmlFragment>
        {
            Html.Element("h1", $"{store.Hook} {store.Kind} {u.Unit}"),
            Html.Element("p", Html.Element("a", "← index", ("href", "../" + IndexPage(store)))),
            Html.Properties([
                ("max activation", Html.Number(u.MaxActivation)), ("density (> 0)", Html.Number(u.Density, "P3")),
                ("mean when > 0", Html.Number(u.MeanActivation)), ("tokens", Html.Element("span", store.Tokens.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))),
            ]),
            Html.Section("top", $"Top {u.Top.Count} contexts", "Tokens shaded by this unit's activation; the activating token is outlined.",
                Contexts(store, u.Top, scale)),
            Html.Section("histogram", "Activation histogram", $"Positive activations in {u.Histogram.Counts.Length} bins over (0, {Html.Format(u.Histogram.Range, "G4")}]; {u.Histogram.NonPositive:N0} tokens at or below 0.",
                Histogram(u.Histogram)),
            Html.Section("intervals", "Samples across the activation range", "Contexts drawn uniformly from the tokens in each activation interval, highest interval first.",
                HtmlFragment.Concat(u.Intervals.Reverse().Where(i => i.Count > 0).Select(i =>
                    Html.Element("h3", $"[{Html.Format(i.Lower, "G4")}, {Html.Format(i.Upper, "G4")}): {i.Count:N0} tokens") + Contexts(store, i.Contexts, scale)))),
        };
        body.Add(u.Promotes is null
            ? Html.Section("logits", "Logit effect", store.LogitEffectNote ?? "not computed", HtmlFragment.Concat([]))
            : Html.Section("logits", "Logit effect", "Tokens whose logits this unit's output direction raises and lowers most (through the final norm's weights and the unembedding).",
                Html.Properties([("promotes", ReportParts.ScoredChips(u.Promotes)), ("suppresses", ReportParts.ScoredChips(u.Suppresses!))])));
        return Html.Document($"pinpoint {store.Hook} {store.Kind} {u.Unit}", ReportParts.Css + Css, body);
    }

    /// <summary>An optional report section (explain): each neuron's strongest corpus contexts, the activating token marked.</summary>
    public static HtmlFragment NeuronContextsSection(IReadOnlyList<NeuronContexts> neurons) => neurons.Count == 0 ? HtmlFragment.Concat([]) :
        Html.Section("neuron-contexts", "Neurons: top corpus contexts", "From the dashboard store of each neuron's layer (pinpoint neurons): the corpus tokens that activate it most, the activating token marked.",
            NeuronContextsTable(neurons));

    /// <summary>One row per neuron: its peak activation, density and top contexts with the activating token marked.</summary>
    public static HtmlFragment NeuronContextsTable(IReadOnlyList<NeuronContexts> neurons) =>
        Html.Table("Top contexts", ["neuron", "max activation", "density", "contexts"], neurons.Select(n => (IReadOnlyList<HtmlFragment>)
        [
            Html.Element("code", n.Neuron), Html.Number(n.MaxActivation), Html.Number(n.Density, "P2"),
            HtmlFragment.Concat(n.Top.Select(c => Html.Element("div", Html.Format(c.Activation, "F2") + " " + ReportParts.Prompt(c.Before) + Html.Element("mark", Html.Token(c.Token)) + ReportParts.Prompt(c.After)))),
        ]));

    /// <summary>
    /// Contexts as rows of tokens shaded by activation, each token's value in its tooltip. Kept terse (a page per unit
    /// adds up over thousands of units): one style and one title per token, dark shades flagged by class.
    /// </summary>
    public static HtmlFragment Contexts(DashboardStore store, IReadOnlyList<ActivatingContext> contexts, ColourScale scale) =>
        Html.Element("div", HtmlFragment.Concat(contexts.Select(c => Html.Element("div",
            Html.Element("span", Html.Format(c.Activation), ("class", "act"), ("title", $"window {c.Source}, position {c.Position}"))
            + HtmlFragment.Concat(c.Tokens.Select((id, i) =>
            {
                double v = Math.Max(0, c.Activations[i]);
                string kind = (i == c.Focus ? "f" : "") + (scale.Intensity(v) > 0.6 ? " d" : "");
                var attributes = new List<(string, string)> { ("style", "background:" + scale.Colour(v)), ("title", Html.Format(c.Activations[i], "G4")) };
                if (kind.Length > 0) attributes.Add(("class", kind.Trim()));
                return Html.Element("span", Html.VisibleToken(store.Text(id)), [.. attributes]);
            })),
            ("class", "context")))), ("class", "contexts"));

    private static HtmlFragment Histogram(ActivationHistogram h) => new BarChart(h.Counts.Select(c => (double)c).ToList(),
        h.Counts.Select((c, i) => $"({Html.Format(i * h.BinWidth, "G4")}, {Html.Format((i + 1) * h.BinWidth, "G4")}]: {c:N0}").ToList(), "0", Html.Format(h.Range, "G4"), Palette.Red).Render();

    private static HtmlFragment Summary(DashboardStore store) => Html.Properties([
        ("model", Html.Element("span", store.Model)), ("corpus", Html.Element("span", string.Join(", ", store.Corpus))),
        ("tokens", Html.Element("span", $"{store.Tokens:N0} in {store.Windows:N0} windows of up to {store.WindowLength}")),
        ("SAE", Html.Element("span", store.Sae ?? "—")),
    ]);

    private const string Css = """
        .contexts { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
        .context { margin: 3px 0; white-space: nowrap; overflow-x: auto; }
        .act { display: inline-block; width: 64px; color: #555; }
        .context span { white-space: pre; padding: 1px 0; }
        .context .f { outline: 2px solid #333; }
        .context .d { color: #fff; }
        h3 { font-size: 14px; margin: 14px 0 4px; }
        """;
}

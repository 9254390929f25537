using System.Globalization;

namespace Pinpoint.Reports;

/// <summary>
/// A range input over pre-rendered views (one chart per checkpoint, say) that shows one view at a time. The views are
/// all in the page, so it still prints and reads without scripts (the chosen view shows); the one inline script only
/// switches the <c>hidden</c> attribute and fetches nothing.
/// </summary>
public static class ViewSlider
{
    /// <param name="id">The slider's element id, unique in the page.</param>
    /// <param name="name">What the slider picks ("checkpoint"), its label.</param>
    /// <param name="views">Each view with the label shown beside the slider while it is chosen ("step 400").</param>
    /// <param name="selected">The view shown when the page opens.</param>
    public static HtmlFragment Render(string id, string name, IReadOnlyList<(string Label, HtmlFragment View)> views, int selected)
    {
        if (views.Count == 0) throw new ArgumentException("a slider needs at least one view", nameof(views));
        if (selected < 0 || selected >= views.Count) throw new ArgumentOutOfRangeException(nameof(selected), selected, $"the slider has {views.Count} views");
        string I(int i) => i.ToString(CultureInfo.InvariantCulture);
        var control = HtmlFragment.Trusted(
            $"<label for=\"{Html.Escape(id)}\">{Html.Escape(name)}</label> " +
            $"<input type=\"range\" id=\"{Html.Escape(id)}\" min=\"0\" max=\"{I(views.Count - 1)}\" step=\"1\" value=\"{I(selected)}\"/> ")
            + Html.Element("output", views[selected].Label, ("for", id));
        var panes = views.Select((v, i) =>
        {
            (string Name, string Value)[] attributes = [("class", "slider-view"), ("data-index", I(i)), ("data-label", v.Label)];
            return Html.Element("div", v.View, i == selected ? attributes : [.. attributes, ("hidden", "hidden")]);
        });
        return Html.Element("div", Html.Element("div", control, ("class", "slider-control")) + HtmlFragment.Concat(panes), ("class", "slider"), ("data-slider", id))
            + Html.Element("script", HtmlFragment.Trusted(Script.Replace("SLIDER_ID", id.Replace("'", "", StringComparison.Ordinal), StringComparison.Ordinal)));
    }

    // No '<' or '&' in either: the page must stay well-formed XML.
    public const string Css = """
        .slider-control { margin: 8px 0 12px; }
        .slider-control input { width: 360px; vertical-align: middle; }
        """;

    private const string Script = """
        (function () {
          var slider = document.getElementById('SLIDER_ID');
          var box = slider.closest('.slider');
          var label = box.querySelector('output');
          var views = box.querySelectorAll('.slider-view');
          function show() {
            views.forEach(function (view) {
              var chosen = view.getAttribute('data-index') === slider.value;
              view.hidden = !chosen;
              if (chosen) label.textContent = view.getAttribute('data-label');
            });
          }
          slider.addEventListener('input', show);
          show();
        })();
        """;
}

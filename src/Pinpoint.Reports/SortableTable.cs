namespace Pinpoint.Reports;

/// <summary>A table whose columns sort on click: numbers by each cell's <c>data-v</c> value, other cells by their text.</summary>
public static class SortableTable
{
    public static HtmlFragment Render(string caption, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<HtmlFragment>> rows) =>
        Html.Element("div", Html.Table(caption, headers, rows), ("class", "sortable")) + HtmlFragment.Trusted(Script);

    /// <summary>A number shown rounded whose sort key is its exact value (a non-finite value shows as a dash and sorts lowest).</summary>
    public static HtmlFragment Number(double value, string format) =>
        Html.Element("span", double.IsFinite(value) ? Html.Format(value, format) : "—", ("class", "num"),
            ("data-v", double.IsFinite(value) ? Html.Exact(value) : "-1e308"));

    // No '<' or '&' here: the page must stay well-formed XML. A second click on a header reverses the order.
    private const string Script = """
        <script>
        document.querySelectorAll('.sortable th').forEach(function (th) {
          th.style.cursor = 'pointer';
          th.addEventListener('click', function () {
            var column = Array.prototype.indexOf.call(th.parentNode.children, th);
            var body = th.closest('table').querySelector('tbody');
            var down = th.dataset.down !== '1';
            th.dataset.down = down ? '1' : '0';
            var key = function (row) { var cell = row.children[column]; var n = cell.querySelector('[data-v]'); return n ? parseFloat(n.dataset.v) : cell.textContent; };
            Array.from(body.rows).sort(function (a, b) {
              var x = key(a), y = key(b);
              var order = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
              return down ? -order : order;
            }).forEach(function (row) { body.appendChild(row); });
          });
        });
        </script>
        """;
}

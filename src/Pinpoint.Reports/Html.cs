using System.Globalization;
using System.Text;

namespace Pinpoint.Reports;

/// <summary>
/// Small builders for self-contained HTML pages: escaping, elements, token chips, numbers and tables. The output is
/// also well-formed XML (every element closed, only XML entities), so it can be checked with an XML parser.
/// </summary>
public static class Html
{
    /// <summary>
    /// Escapes text for element content and for quoted attribute values. Code units no HTML or XML document may hold
    /// (see <see cref="IsUnwritable"/>) become a visible \uXXXX.
    /// </summary>
    public static string Escape(string text) => Translate(text, ch => ch switch
    {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&#39;",
        _ => null,
    });

    /// <summary>
    /// A token as plain text that shows what it really is: spaces become "·" (a leading space matters, and HTML and
    /// SVG would collapse it), newlines and tabs become \n and \t, the empty token becomes "∅".
    /// </summary>
    public static string VisibleToken(string token)
    {
        var visible = Translate(token, ch => ch switch
        {
            ' ' => "·",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            _ => null,
        });
        return visible.Length == 0 ? "∅" : visible;
    }

    /// <summary>Each code unit as <paramref name="special"/> maps it, else as \uXXXX when no page may hold it, else as itself.</summary>
    private static string Translate(string text, Func<char, string?> special)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (special(text[i]) is { } mapped) sb.Append(mapped);
            else if (IsUnwritable(text, i)) sb.Append(UnicodeEscape(text[i]));
            else sb.Append(text[i]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// Control characters other than tab and newlines, non-characters U+FFFE/U+FFFF, and lone surrogates (half a
    /// character, e.g. split across byte-level tokens): not allowed in XML, parse errors in HTML, unencodable in UTF-8.
    /// </summary>
    private static bool IsUnwritable(string text, int i)
    {
        char ch = text[i];
        if (char.IsHighSurrogate(ch)) return i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]);
        if (char.IsLowSurrogate(ch)) return i == 0 || !char.IsHighSurrogate(text[i - 1]);
        return char.IsControl(ch) && ch is not ('\t' or '\n' or '\r') || ch is '\uFFFE' or '\uFFFF';
    }

    private static string UnicodeEscape(char ch) => $"\\u{(int)ch:x4}";

    public static HtmlFragment Element(string tag, HtmlFragment content, params (string Name, string Value)[] attributes) =>
        HtmlFragment.Trusted($"<{tag}{Attributes(attributes)}>{content.Markup}</{tag}>");

    private static string Attributes(IEnumerable<(string Name, string Value)> attributes) =>
        string.Concat(attributes.Select(a => $" {a.Name}=\"{Escape(a.Value)}\""));

    /// <summary>A token chip; <paramref name="tooltip"/> (e.g. its position or score) shows on hover.</summary>
    public static HtmlFragment Token(string token, string? tooltip = null) =>
        Element("span", VisibleToken(token), tooltip is null ? [("class", "tok")] : [("class", "tok"), ("title", tooltip)]);

    public static HtmlFragment SpaceSeparated(IEnumerable<HtmlFragment> items) => HtmlFragment.Concat(items.Select((x, i) => i == 0 ? x : " " + x));

    public static string Format(double value, string format = "F3") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>The exact value, for tooltips.</summary>
    public static string Exact(double value) => value.ToString("G9", CultureInfo.InvariantCulture);

    /// <summary>A rounded number whose tooltip holds the exact value.</summary>
    public static HtmlFragment Number(double value, string format = "F3") =>
        Element("span", Format(value, format), ("class", "num"), ("title", Exact(value)));

    public static HtmlFragment Table(string caption, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<HtmlFragment>> rows)
    {
        var head = Element("tr", HtmlFragment.Concat(headers.Select(h => Element("th", h))));
        var body = HtmlFragment.Concat(rows.Select(r => Element("tr", HtmlFragment.Concat(r.Select(c => Element("td", c))))));
        return Element("table", Element("caption", caption) + Element("thead", head) + Element("tbody", body));
    }

    /// <summary>A two-column table of named values, names as row headers.</summary>
    public static HtmlFragment Properties(IEnumerable<(string Name, HtmlFragment Value)> rows) =>
        Element("table", Element("tbody", HtmlFragment.Concat(rows.Select(r => Element("tr", Element("th", r.Name) + Element("td", r.Value))))),
            ("class", "properties"));

    /// <summary>A titled page section; <paramref name="note"/> says in one line how to read it.</summary>
    public static HtmlFragment Section(string id, string title, string note, HtmlFragment content) =>
        Element("section", Element("h2", title) + Element("p", note, ("class", "note")) + content, ("id", id));

    /// <summary>Figures laid out side by side, wrapping on narrow pages.</summary>
    public static HtmlFragment Figures(IEnumerable<HtmlFragment> items) =>
        Element("div", HtmlFragment.Concat(items.Select(i => Element("div", i, ("class", "figure")))), ("class", "figures"));

    public static string Document(string title, string css, IEnumerable<HtmlFragment> body) =>
        "<!DOCTYPE html>\n" + Element("html",
            Element("head",
                HtmlFragment.Trusted("<meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>")
                + Element("title", title) + Element("style", HtmlFragment.Trusted(css)))
            + Element("body", HtmlFragment.Concat(body)),
            ("lang", "en")).Markup + "\n";
}

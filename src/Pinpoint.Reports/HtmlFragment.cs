namespace Pinpoint.Reports;

/// <summary>
/// Markup that is safe to insert as is. A plain string converts to a fragment by being escaped, so text from the
/// model or tokenizer can never open a tag; only this folder's helpers create fragments from literal markup.
/// </summary>
public readonly record struct HtmlFragment
{
    private readonly string? _markup;

    private HtmlFragment(string markup) => _markup = markup;

    public string Markup => _markup ?? "";

    public static HtmlFragment Text(string text) => new(Html.Escape(text));

    /// <summary>Markup written by this library itself; every piece of outside text in it must already be escaped.</summary>
    internal static HtmlFragment Trusted(string markup) => new(markup);

    public static HtmlFragment Concat(IEnumerable<HtmlFragment> parts) => new(string.Concat(parts.Select(p => p.Markup)));

    public static implicit operator HtmlFragment(string text) => Text(text);

    public static HtmlFragment operator +(HtmlFragment a, HtmlFragment b) => new(a.Markup + b.Markup);

    public override string ToString() => Markup;
}

using Pinpoint.Interpretability.Reports;
using Pinpoint.Reports;

namespace Pinpoint.Tests.Reports;

public class HtmlTests
{
    [Theory]
    [InlineData(" the", "·the")]
    [InlineData("\n", "\\n")]
    [InlineData("a\tb", "a\\tb")]
    [InlineData("", "∅")]
    [InlineData("x\u0007", "x\\u0007")]
    [InlineData("😀", "😀")]
    [InlineData("<b>", "<b>")]
    public void VisibleTokenShowsSpacesAndEscapesWhatCannotBeShown(string token, string expected) =>
        Assert.Equal(expected, Html.VisibleToken(token));

    /// <summary>Half a surrogate pair (not in InlineData: theory arguments are serialized as UTF-8, which drops them).</summary>
    [Fact]
    public void LoneSurrogatesAreEscapedAndPairsKept()
    {
        Assert.Equal("\\ud83d", Html.VisibleToken("\uD83D"));
        Assert.Equal("\\ude00a", Html.VisibleToken("\uDE00a"));
        Assert.Equal("x\\ud83d", Html.Escape("x\uD83D"));
        Assert.Equal("\uD83D\uDE00", Html.Escape("\uD83D\uDE00"));
    }

    [Fact]
    public void EscapeCoversMarkupQuotesAndUnwritableCharacters() =>
        Assert.Equal("&lt;a href=&quot;x&quot;&gt;&amp;&#39; \\u0000\n", Html.Escape("<a href=\"x\">&' \0\n"));

    [Fact]
    public void PlainStringsBecomeEscapedFragments()
    {
        HtmlFragment text = "<b>&";
        Assert.Equal("&lt;b&gt;&amp;", text.Markup);
        Assert.Equal("<td>&lt;i&gt;</td>", Html.Element("td", "<i>").Markup);
        Assert.Equal("<span class=\"tok\" title=\"a&quot;b\">·x</span>", Html.Token(" x", "a\"b").Markup);
    }

    [Fact]
    public void DivergingScaleIsSymmetricAroundZero()
    {
        var scale = ColourScale.DivergingFor([-2, 1, double.NaN]);
        Assert.Equal((-2.0, 2.0), (scale.Min, scale.Max));
        Assert.Equal("#f7f7f7", scale.Colour(0));
        Assert.Equal("#b2182b", scale.Colour(2));
        Assert.Equal("#2166ac", scale.Colour(-2));
        Assert.Equal(scale.Colour(2), scale.Colour(5));
        Assert.Equal(0.5, scale.Intensity(-1));
        Assert.Equal(scale.Intensity(1), scale.Intensity(-1));
        Assert.NotEqual(scale.Colour(1), scale.Colour(-1));
    }

    [Fact]
    public void AllZeroValuesStillGiveAUsableScale()
    {
        var scale = ColourScale.DivergingFor([0, 0]);
        Assert.True(scale.Max > 0);
        Assert.Equal("#f7f7f7", scale.Colour(0));
    }
}

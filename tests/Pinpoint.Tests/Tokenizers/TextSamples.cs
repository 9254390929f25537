namespace Pinpoint.Tests.Tokenizers;

internal static class TextSamples
{
    /// <summary>Texts that exercise leading/trailing/multiple spaces, newlines, contractions, digits, punctuation and non-ASCII.</summary>
    public static readonly string[] Varied =
    [
        "Hello world",
        " the quick brown fox",
        "  two leading spaces and trailing  ",
        "line one\nline two\n\n  indented\r\n",
        "It's we'll they've I'd you're she'll",
        "Numbers: 12345, 3.14 and 1,000,000!",
        "héllo wörld — naïve café 日本語 🙂👍🏽",
        "tabs\tand\u00a0nbsp",
        "First<|endoftext|>Second <|endoftext|> third",
        "",
        " ",
        "\n",
        "MENENIUS: What work's, my countrymen, in hand?",
    ];
}

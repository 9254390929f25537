namespace Pinpoint.Models.Tokenizers;

public static class TokenDisplay
{
    /// <summary>A token's text in double quotes with newlines, tabs and other control characters escaped, so it stays on one line.</summary>
    public static string Quote(string token) =>
        "\"" + string.Concat(token.Select(ch => ch switch
        {
            '\n' => "\\n",
            '\t' => "\\t",
            _ when char.IsControl(ch) => $"\\u{(int)ch:x4}",
            _ => ch.ToString(),
        })) + "\"";
}

using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Interpretability.Editing;

/// <summary>Where a subject's text lies among a prompt's tokens.</summary>
public static class SubjectTokens
{
    /// <summary>
    /// The token range [Start, End) whose text overlaps the last occurrence of <paramref name="subject"/> in the decoded
    /// prompt; throws naming the prompt's tokens when the subject is not there.
    /// </summary>
    public static (int Start, int End) Find(ITokenizer tokenizer, int[] ids, string subject)
    {
        if (subject.Trim().Length == 0) throw new ArgumentException("the subject is empty");
        var ends = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) ends[i] = tokenizer.Decode(ids.AsSpan(0, i + 1)).Length;
        var text = tokenizer.Decode(ids);
        int at = text.LastIndexOf(subject, StringComparison.Ordinal);
        if (at < 0)
            throw new ArgumentException($"subject '{subject}' is not in the prompt's tokens [{string.Join(" ", ids.Select(id => TokenDisplay.Quote(tokenizer.TokenText(id))))}]");
        int start = 0;
        while (ends[start] <= at) start++;
        int end = start;
        while (end < ids.Length && (end == 0 ? 0 : ends[end - 1]) < at + subject.Length) end++;
        return (start, end);
    }
}

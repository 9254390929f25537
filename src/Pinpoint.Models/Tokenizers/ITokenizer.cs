namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// A text tokenizer as used by a language model. Ids are dense in [0, <see cref="VocabSize"/>).
/// </summary>
public interface ITokenizer : IDisposable
{
    /// <summary>Number of ids (including special tokens).</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, or null when the tokenizer has none.</summary>
    int? Bos { get; }

    /// <summary>End-of-sequence / end-of-text id, or null when the tokenizer has none.</summary>
    int? Eos { get; }

    /// <summary>Whether the model was trained with BOS prepended (what <see cref="Encode(string)"/> does).</summary>
    bool AddsBosByDefault { get; }

    /// <summary>Tokenizes <paramref name="text"/>; prepends <see cref="Bos"/> when <paramref name="addBos"/> (never appends EOS).</summary>
    /// <exception cref="InvalidOperationException">addBos is true and the tokenizer has no BOS token.</exception>
    int[] Encode(string text, bool addBos);

    /// <summary>Tokenizes with the model's default BOS behaviour.</summary>
    int[] Encode(string text) => Encode(text, AddsBosByDefault);

    /// <summary>
    /// Text of a token sequence. Special tokens appear as their text (e.g. "&lt;|endoftext|&gt;") unless
    /// <paramref name="skipSpecial"/>; SentencePiece-style tokenizers drop the dummy-prefix space at the start
    /// and after BOS. Invalid UTF-8 becomes U+FFFD.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">an id is outside [0, VocabSize).</exception>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false);

    /// <summary>
    /// Surface form of one token for display: real spaces and newlines (" the"), special tokens as their text,
    /// bytes that are not complete UTF-8 as &lt;0xNN&gt;.
    /// </summary>
    string TokenText(int id);

    /// <summary>Whether <paramref name="id"/> is a special/control token (BOS, EOS, &lt;unk&gt;, added special tokens).</summary>
    bool IsSpecial(int id);

    /// <summary>Id of a token given its surface form as returned by <see cref="TokenText"/> (" the") or its raw vocabulary spelling ("Ġthe", "▁the").</summary>
    bool TryGetId(string tokenText, out int id);
}

public static class TokenizerExtensions
{
    /// <summary>
    /// Generated ids as text that reads on after the prompt: decoding them alone would drop a SentencePiece word's
    /// leading space, so the whole sequence is decoded and the prompt's text cut off.
    /// </summary>
    public static string DecodeContinuation(this ITokenizer tokenizer, int[] promptIds, int[] ids)
    {
        var head = tokenizer.Decode(promptIds, skipSpecial: true);
        var full = tokenizer.Decode([.. promptIds, .. ids], skipSpecial: true);
        return full.StartsWith(head, StringComparison.Ordinal) ? full[head.Length..] : tokenizer.Decode(ids, skipSpecial: true);
    }

    /// <summary>The continuation's words (split on whitespace), e.g. for n-gram statistics of generated text.</summary>
    public static string[] DecodeContinuationWords(this ITokenizer tokenizer, int[] promptIds, int[] ids) =>
        tokenizer.DecodeContinuation(promptIds, ids).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}

using System.Text.RegularExpressions;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// GPT-2's byte-level scheme: each byte is written as one printable character (printable Latin-1 bytes as
/// themselves, the rest as U+0100 upwards in byte order), so BPE vocabularies are plain strings.
/// </summary>
public static partial class ByteLevel
{
    private static readonly char[] CharOfByte = BuildCharOfByte();
    private static readonly Dictionary<char, byte> ByteOfChar = CharOfByte.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    /// <summary>GPT-2's pre-tokenizer: contractions, letter runs, digit runs, punctuation runs (each with one optional leading space), whitespace runs.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    [GeneratedRegex(Gpt2Pattern, RegexOptions.CultureInvariant)]
    public static partial Regex Gpt2Regex();

    /// <summary>The character standing for <paramref name="b"/>.</summary>
    public static char ToChar(byte b) => CharOfByte[b];

    /// <summary>Bytes of a byte-level spelling, or null if it contains a character outside the 256-character alphabet.</summary>
    public static byte[]? TryDecode(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!ByteOfChar.TryGetValue(token[i], out bytes[i])) return null;
        }
        return bytes;
    }

    private static char[] BuildCharOfByte()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = (char)(printable ? b : next++);
        }
        return map;
    }
}

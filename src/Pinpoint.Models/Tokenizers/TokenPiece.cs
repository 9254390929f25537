namespace Pinpoint.Models.Tokenizers;

/// <summary>What one id stands for: the bytes it contributes to decoded text, its raw vocabulary spelling, and whether it is special.</summary>
internal readonly record struct TokenPiece(byte[] Bytes, string RawText, bool Special);

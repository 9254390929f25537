using System.Buffers.Binary;
using System.Text;

namespace Pinpoint.Models.Formats;

/// <summary>
/// Bounds-checked little-endian reader over a memory region (usually a mapped file). Every read checks that it
/// stays inside the region and reports failures as <see cref="ModelFormatException"/> with the byte offset, so
/// parsers never see an index, access or overflow error however broken the file is.
/// </summary>
internal sealed unsafe class BinaryCursor
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte* _base;

    public string Path { get; }
    public long Length { get; }
    public long Position { get; private set; }
    public long Remaining => Length - Position;

    public BinaryCursor(byte* start, long length, string path, long position = 0)
    {
        _base = start;
        Length = length;
        Path = path;
        Seek(position);
    }

    public ModelFormatException Error(string problem) => new(Path, problem);

    public void Seek(long position)
    {
        if (position < 0 || position > Length)
            throw Error($"offset {position} is outside the file of {Length} bytes");
        Position = position;
    }

    /// <summary>Throws unless <paramref name="count"/> bytes remain; <paramref name="what"/> names them in the error.</summary>
    public void Require(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw Error($"{what} needs {count} bytes at offset {Position} but only {Remaining} remain (file is {Length} bytes)");
    }

    public ReadOnlySpan<byte> ReadBytes(long count, string what)
    {
        Require(count, what);
        if (count > int.MaxValue) throw Error($"{what} of {count} bytes is too large to read at once");
        var span = new ReadOnlySpan<byte>(_base + Position, (int)count);
        Position += count;
        return span;
    }

    public void Skip(long count, string what)
    {
        Require(count, what);
        Position += count;
    }

    public byte ReadU8(string what) => ReadBytes(1, what)[0];
    public sbyte ReadI8(string what) => (sbyte)ReadBytes(1, what)[0];
    public ushort ReadU16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, what));
    public short ReadI16(string what) => BinaryPrimitives.ReadInt16LittleEndian(ReadBytes(2, what));
    public uint ReadU32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, what));
    public int ReadI32(string what) => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, what));
    public ulong ReadU64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, what));
    public long ReadI64(string what) => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8, what));
    public float ReadF32(string what) => BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4, what));
    public double ReadF64(string what) => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, what));

    /// <summary>
    /// UTF-8 text of <paramref name="byteCount"/> bytes. Strict mode rejects invalid UTF-8 (names, keys);
    /// lenient mode substitutes U+FFFD, because some real vocabularies hold byte fragments.
    /// </summary>
    public string ReadUtf8(long byteCount, string what, bool strict = true)
    {
        var bytes = ReadBytes(byteCount, what);
        try
        {
            return strict ? StrictUtf8.GetString(bytes) : Encoding.UTF8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ModelFormatException(Path, $"{what} at offset {Position - byteCount} is not valid UTF-8", e);
        }
    }
}

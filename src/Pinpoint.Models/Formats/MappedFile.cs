using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>
/// A private (copy-on-write) memory map of a whole file with its base pointer acquired once. Tensors created
/// here point straight into the map and hold this object as their storage owner; the map stays valid until
/// <see cref="Dispose"/> (or, if nobody disposes, until the last tensor becomes unreachable).
/// </summary>
internal sealed unsafe partial class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;
    private byte* _resident;

    public string Path { get; }
    public long Length { get; }

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + view.PointerOffset;
    }

    /// <summary>Maps <paramref name="path"/>; I/O problems (missing, unreadable, empty) become <see cref="ModelFormatException"/>.</summary>
    /// <summary>Maps <paramref name="path"/> and parses it; the map is released if parsing fails.</summary>
    public static TensorFile Parse(string path, Func<MappedFile, TensorFile> parse)
    {
        var file = Open(path);
        try
        {
            return parse(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public static MappedFile Open(string path)
    {
        MemoryMappedFile? map = null;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            long length = stream.Length;
            if (length == 0) throw new ModelFormatException(path, "file is empty");
            // Copy-on-write rather than read-only: engine storage hands out writable spans, and a stray write to a
            // read-only page would kill the process instead of just changing this process's copy.
            // The mapping outlives the file handle, which closes when this method returns.
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.CopyOnWrite, HandleInheritability.None, leaveOpen: true);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.CopyOnWrite);
            return new MappedFile(path, length, map, view);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            map?.Dispose();
            throw new ModelFormatException(path, $"cannot open: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads the byte ranges [offset, offset + bytes) of the file into one block of anonymous memory that this map owns
    /// from then on, and returns where each range starts there. On Linux the block asks for transparent huge pages:
    /// a decode step streams every weight byte once, and 2 MB pages instead of the page cache's 4 KB ones raised that
    /// stream from about 27 to 31 GB/s on this project's 2-core Zen 4 (README, "Quantized GGUF weights"). The file's
    /// own pages are read with <c>pread</c>, never through the map, so they do not count in the process's memory.
    /// Ranges must lie inside the file (the caller checked them against its layout).
    /// </summary>
    public byte*[] ReadResident(IReadOnlyList<(long Offset, long Bytes)> ranges)
    {
        if (_resident != null) throw new InvalidOperationException($"{Path}: ranges were already read into memory");
        const long Page = 2 << 20, Align = 64;
        long total = 0;
        var starts = new long[ranges.Count];
        for (int i = 0; i < ranges.Count; i++)
        {
            starts[i] = total;
            total += (ranges[i].Bytes + Align - 1) / Align * Align;
        }
        var pointers = new byte*[ranges.Count];
        if (total == 0) return pointers;
        long size = (total + Page - 1) / Page * Page;
        _resident = (byte*)NativeMemory.AlignedAlloc((nuint)size, (nuint)Page);
        if (OperatingSystem.IsLinux()) _ = Madvise(_resident, (nuint)size, MadviseHugePage);
        using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        for (int i = 0; i < ranges.Count; i++)
        {
            pointers[i] = _resident + starts[i];
            for (long done = 0; done < ranges[i].Bytes;)
            {
                int chunk = (int)Math.Min(1 << 30, ranges[i].Bytes - done);
                int read = RandomAccess.Read(handle, new Span<byte>(pointers[i] + done, chunk), ranges[i].Offset + done);
                if (read <= 0) throw new ModelFormatException(Path, $"file ended while reading bytes {ranges[i].Offset + done}..{ranges[i].Offset + ranges[i].Bytes}");
                done += read;
            }
        }
        return pointers;
    }

    private const int MadviseHugePage = 14;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public BinaryCursor Cursor(long position = 0) => new(Pointer, Length, Path, position);

    private byte* Pointer => _pointer != null ? _pointer : throw new ObjectDisposedException(Path);

    /// <summary>The bytes [offset, offset+count) of the file, bounds-checked.</summary>
    public ReadOnlySpan<byte> Bytes(long offset, long count, string what) => Cursor(offset).ReadBytes(count, what);

    /// <summary>
    /// A tensor over <c>shape</c> elements of <paramref name="dtype"/> starting at byte <paramref name="offset"/>,
    /// without copying. Misaligned data is copied to a managed F32 array instead, because the engine reinterprets
    /// storage as <c>Span&lt;float&gt;</c>/<c>Span&lt;ushort&gt;</c> and .NET only guarantees atomic, portable access
    /// for naturally aligned elements. Quantized blocks are read bytewise, so they are mapped wherever they start.
    /// </summary>
    public Tensor Tensor(string name, long offset, int[] shape, DType dtype) => Tensor(name, offset, shape, dtype, null);

    /// <summary>As the map's own tensor, over the bytes that <see cref="ReadResident"/> put at <paramref name="resident"/> when it is not null.</summary>
    public Tensor Tensor(string name, long offset, int[] shape, DType dtype, byte* resident)
    {
        int count = Shapes.ElementCount(shape);
        var bytes = Bytes(offset, dtype.ByteCount(count), $"data of tensor '{name}'");
        byte* start = resident != null ? resident : Pointer + offset;
        Storage storage = dtype.IsQuantized() || (nint)start % dtype.SizeInBytes() == 0
            ? new Storage(start, count, dtype, this)
            : new Storage(CopyToFloat32(bytes, dtype, count));
        return Shapes.Create(storage, shape, name);
    }

    private static float[] CopyToFloat32(ReadOnlySpan<byte> bytes, DType dtype, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = dtype == DType.F32
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i, 4))
                : HalfConversion.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2 * i, 2)), dtype);
        }
        return values;
    }

    public void Dispose()
    {
        Release();
        _view.Dispose();
        _map.Dispose();
        GC.SuppressFinalize(this);
    }

    // AcquirePointer adds a reference to the view handle that its own finalizer cannot drop, so an undisposed
    // map would leak without this.
    ~MappedFile() => Release();

    private void Release()
    {
        NativeMemory.AlignedFree(_resident);
        _resident = null;
        if (_pointer == null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
    }
}

/// <summary>Shape arithmetic on untrusted sizes: never overflows, reports problems through the caller's error factory.</summary>
internal static class Shapes
{
    /// <summary>Number of elements of a validated shape (each dimension ≥ 0, product ≤ int.MaxValue).</summary>
    public static int ElementCount(ReadOnlySpan<int> shape)
    {
        long p = 1;
        foreach (var d in shape) p *= d;
        return (int)p;
    }

    /// <summary>
    /// A named row-major tensor over <paramref name="storage"/>. Strides are the exact products of later
    /// dimensions (no clamping of zeros), which keeps empty tensors such as [172, 0] contiguous.
    /// </summary>
    public static Tensor Create(Storage storage, int[] shape, string name)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }
        return new Tensor(storage, 0, shape, strides) { Name = name };
    }

    /// <summary>Converts untrusted dimensions to an engine shape, or throws naming the tensor.</summary>
    public static int[] Validate(ReadOnlySpan<long> dims, string tensor, Func<string, ModelFormatException> error)
    {
        var shape = new int[dims.Length];
        long product = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] < 0 || dims[i] > int.MaxValue)
                throw error($"tensor '{tensor}' has invalid dimension {dims[i]} in shape {FormatDims(dims)}");
            shape[i] = (int)dims[i];
            // Stop multiplying once the product is zero so huge later dimensions cannot overflow.
            if (product != 0) product *= dims[i];
            if (product > int.MaxValue)
                throw error($"tensor '{tensor}' shape {FormatDims(dims)} has more than 2^31-1 elements");
        }
        return shape;
    }

    /// <summary>a × b for non-negative sizes, or an error when the result exceeds <see cref="long.MaxValue"/>.</summary>
    public static long Multiply(long a, long b, string what, Func<string, ModelFormatException> error)
    {
        if (a < 0 || b < 0 || (a != 0 && b > long.MaxValue / a))
            throw error($"{what} overflows ({a} × {b})");
        return a * b;
    }

    public static string FormatDims(ReadOnlySpan<long> dims) => "[" + string.Join(", ", dims.ToArray()) + "]";
}

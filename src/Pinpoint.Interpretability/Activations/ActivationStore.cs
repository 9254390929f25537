using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Pinpoint.Interpretability.Activations;

/// <summary>
/// Harvested activations on disk, read back memory-mapped, so stores larger than memory are used as they are.
/// A folder holds <c>store.json</c> (hooks, widths, shards and their row counts) and per shard
/// <c>shard-NNNNN.hook-HH.f32</c> (one hook's rows, [rows, width] little-endian float32) and
/// <c>shard-NNNNN.rows.bin</c> (per row: int64 source, int32 position, int32 token).
/// </summary>
public sealed unsafe class ActivationStore : IDisposable
{
    public const string ManifestName = "store.json";
    internal const int RowInfoBytes = 16;

    internal sealed record Manifest(string[] Hooks, int[] Widths, long[] ShardRows);

    private readonly List<(MemoryMappedFile File, MemoryMappedViewAccessor View, IntPtr Pointer)> _maps = [];
    private readonly IntPtr[][] _values;
    private readonly IntPtr[] _rowInfo;
    private readonly long[] _shardStart;

    private ActivationStore(string directory, Manifest manifest)
    {
        Directory = directory;
        Hooks = manifest.Hooks;
        Widths = manifest.Widths;
        ShardRows = manifest.ShardRows;
        _shardStart = new long[ShardRows.Length + 1];
        for (int s = 0; s < ShardRows.Length; s++) _shardStart[s + 1] = _shardStart[s] + ShardRows[s];
        _values = new IntPtr[ShardRows.Length][];
        _rowInfo = new IntPtr[ShardRows.Length];
        for (int s = 0; s < ShardRows.Length; s++)
        {
            _values[s] = new IntPtr[Hooks.Count];
            for (int h = 0; h < Hooks.Count; h++) _values[s][h] = Map(ValuesPath(directory, s, h), ShardRows[s] * Widths[h] * sizeof(float));
            _rowInfo[s] = Map(RowsPath(directory, s), ShardRows[s] * RowInfoBytes);
        }
    }

    public string Directory { get; }
    public IReadOnlyList<string> Hooks { get; }
    public int[] Widths { get; }
    public long[] ShardRows { get; }
    public long Rows => _shardStart[^1];

    /// <summary>Opens a store written by <see cref="ActivationStoreWriter"/>; a missing or inconsistent file is an error naming it.</summary>
    public static ActivationStore Open(string directory)
    {
        var path = Path.Combine(directory, ManifestName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no activation store here", path);
        Manifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid activation store manifest ({e.Message})");
        }
        if (manifest.Hooks is null || manifest.Widths is null || manifest.ShardRows is null || manifest.Hooks.Length != manifest.Widths.Length)
            throw new InvalidDataException($"{path}: the manifest needs Hooks, Widths (one per hook) and ShardRows");
        return new ActivationStore(directory, manifest);
    }

    /// <summary>All rows of one hook in one shard, [ShardRows[shard], Widths[hook]], straight from the mapping.</summary>
    public ReadOnlySpan<float> Values(int shard, int hook) =>
        new((void*)_values[shard][hook], checked((int)(ShardRows[shard] * Widths[hook])));

    /// <summary>One row (numbered over the whole store) of one hook.</summary>
    public ReadOnlySpan<float> Row(long row, int hook)
    {
        var (shard, local) = Locate(row);
        return new ReadOnlySpan<float>((float*)_values[shard][hook] + local * Widths[hook], Widths[hook]);
    }

    /// <summary>Where row <paramref name="row"/> came from.</summary>
    public (long Source, int Position, int Token) Origin(long row)
    {
        var (shard, local) = Locate(row);
        byte* p = (byte*)_rowInfo[shard] + local * RowInfoBytes;
        return (*(long*)p, *(int*)(p + 8), *(int*)(p + 12));
    }

    public void Dispose()
    {
        foreach (var (file, view, _) in _maps)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            file.Dispose();
        }
        _maps.Clear();
    }

    internal static string ValuesPath(string directory, int shard, int hook) => Path.Combine(directory, $"shard-{shard:D5}.hook-{hook:D2}.f32");
    internal static string RowsPath(string directory, int shard) => Path.Combine(directory, $"shard-{shard:D5}.rows.bin");

    private (int Shard, long Local) Locate(long row)
    {
        if ((ulong)row >= (ulong)Rows) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside the store's {Rows} rows");
        int shard = Array.BinarySearch(_shardStart, row);
        shard = shard >= 0 ? shard : ~shard - 1;
        return (shard, row - _shardStart[shard]);
    }

    private IntPtr Map(string path, long bytes)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: shard file missing", path);
        if (new FileInfo(path).Length != bytes) throw new InvalidDataException($"{path}: {new FileInfo(path).Length} bytes, the manifest implies {bytes}");
        if (bytes == 0) return IntPtr.Zero;
        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = file.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        var start = (IntPtr)(pointer + view.PointerOffset);
        _maps.Add((file, view, start));
        return start;
    }
}

/// <summary>
/// Streams harvested batches into an <see cref="ActivationStore"/> folder: rows are appended to the current
/// shard's files and a new shard starts every <c>rowsPerShard</c> rows, so memory stays at one batch. The manifest
/// is written by <see cref="Complete"/>; a folder without it is an unfinished store.
/// </summary>
public sealed class ActivationStoreWriter : IDisposable
{
    private readonly string _directory;
    private readonly long _rowsPerShard;
    private readonly List<long> _shardRows = [];
    private string[]? _hooks;
    private int[]? _widths;
    private FileStream[]? _values;
    private FileStream? _rows;
    private readonly byte[] _rowInfo = new byte[ActivationStore.RowInfoBytes];

    public ActivationStoreWriter(string directory, long rowsPerShard = 1 << 16)
    {
        if (rowsPerShard < 1) throw new ArgumentException($"rows per shard {rowsPerShard}: it must be at least 1");
        System.IO.Directory.CreateDirectory(directory);
        if (File.Exists(Path.Combine(directory, ActivationStore.ManifestName)))
            throw new IOException($"{directory}: already holds an activation store");
        _directory = directory;
        _rowsPerShard = rowsPerShard;
    }

    public long Rows => _shardRows.Sum();

    /// <summary>Appends every row of <paramref name="batch"/> (usable as the harvester's consumer).</summary>
    public void Add(ActivationBatch batch)
    {
        if (_hooks is null)
        {
            _hooks = [.. batch.Hooks];
            _widths = [.. batch.Widths];
        }
        else if (!_hooks.SequenceEqual(batch.Hooks) || !_widths!.SequenceEqual(batch.Widths))
            throw new ArgumentException("a batch with other hooks or widths than the store's");
        int row = 0;
        while (row < batch.Rows)
        {
            if (_values is null || _shardRows[^1] == _rowsPerShard) StartShard();
            int take = (int)Math.Min(batch.Rows - row, _rowsPerShard - _shardRows[^1]);
            for (int h = 0; h < _hooks.Length; h++)
                _values![h].Write(MemoryMarshal.AsBytes(batch.Values(h).AsSpan(row * _widths![h], take * _widths[h])));
            for (int r = row; r < row + take; r++)
            {
                BitConverter.TryWriteBytes(_rowInfo.AsSpan(0, 8), batch.Sources[r]);
                BitConverter.TryWriteBytes(_rowInfo.AsSpan(8, 4), batch.Positions[r]);
                BitConverter.TryWriteBytes(_rowInfo.AsSpan(12, 4), batch.Tokens[r]);
                _rows!.Write(_rowInfo);
            }
            _shardRows[^1] += take;
            row += take;
        }
    }

    /// <summary>Closes the shards and writes the manifest; the store can then be opened.</summary>
    public void Complete()
    {
        if (_hooks is null) throw new InvalidOperationException("no activations were added to the store");
        CloseShard();
        var manifest = new ActivationStore.Manifest(_hooks, _widths!, [.. _shardRows]);
        var path = Path.Combine(_directory, ActivationStore.ManifestName);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(manifest));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public void Dispose() => CloseShard();

    private void StartShard()
    {
        CloseShard();
        int shard = _shardRows.Count;
        _values = _hooks!.Select((_, h) => new FileStream(ActivationStore.ValuesPath(_directory, shard, h), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16)).ToArray();
        _rows = new FileStream(ActivationStore.RowsPath(_directory, shard), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _shardRows.Add(0);
    }

    private void CloseShard()
    {
        if (_values is null) return;
        foreach (var s in _values) s.Dispose();
        _rows!.Dispose();
        _values = null;
        _rows = null;
    }
}

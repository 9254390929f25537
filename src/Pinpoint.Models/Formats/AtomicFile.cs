namespace Pinpoint.Models.Formats;

/// <summary>
/// Writes a file through a temporary sibling and a rename, so readers (and a crash mid-write, e.g. while saving a
/// training checkpoint) only ever see the old file or the complete new one.
/// </summary>
public static class AtomicFile
{
    /// <exception cref="IOException">the file cannot be written; the message names <paramref name="path"/>, never the temporary file.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        var full = System.IO.Path.GetFullPath(path);
        var temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            File.Delete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new IOException($"cannot write {full}: {e.Message.Replace(temp, full, StringComparison.Ordinal)}", e);
            throw;
        }
    }

    /// <summary>
    /// Fails now, with the reason, when <paramref name="path"/> could not be written later: a folder, a missing
    /// folder, or a place that refuses new files. Leaves nothing behind.
    /// </summary>
    public static void CheckWritable(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"cannot write {full}: it is a folder");
        var folder = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new IOException($"cannot write {full}: folder {folder} does not exist");
        try
        {
            using var probe = new FileStream($"{full}.{Guid.NewGuid():N}.tmp", FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {full}: new files cannot be created in {folder} ({e.GetType().Name})", e);
        }
    }
}

/// <summary>
/// Writes a folder through a temporary sibling and a rename: a failure leaves no folder (or the old one) behind,
/// and an existing non-empty folder is replaced only when asked.
/// </summary>
public static class AtomicFolder
{
    /// <param name="write">Fills the temporary folder it is given.</param>
    /// <param name="replace">Whether a non-empty folder at <paramref name="path"/> may be replaced.</param>
    /// <exception cref="IOException"><paramref name="path"/> is a file, or a non-empty folder and <paramref name="replace"/> is false.</exception>
    public static void Write(string path, bool replace, Action<string> write)
    {
        var full = System.IO.Path.GetFullPath(path.TrimEnd('/', System.IO.Path.DirectorySeparatorChar));
        if (File.Exists(full)) throw new IOException($"{full} is a file, not a folder");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any() && !replace)
            throw new IOException($"{full} is not empty; choose another folder or replace it");
        var parent = System.IO.Path.GetDirectoryName(full)!;
        if (!Directory.Exists(parent)) throw new IOException($"cannot write {full}: folder {parent} does not exist");
        var temp = $"{full}.{Guid.NewGuid():N}.tmp";
        var old = $"{full}.{Guid.NewGuid():N}.old";
        try
        {
            Directory.CreateDirectory(temp);
            write(temp);
            if (Directory.Exists(full)) Directory.Move(full, old);
            Directory.Move(temp, full);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            if (Directory.Exists(old) && !Directory.Exists(full)) Directory.Move(old, full);
            throw;
        }
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }
}

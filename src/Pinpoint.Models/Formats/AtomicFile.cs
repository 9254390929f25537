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

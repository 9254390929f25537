namespace Pinpoint.Models.Formats;

/// <summary>
/// A model or config file that cannot be read: malformed, truncated, inconsistent or of an unsupported kind.
/// The message always starts with the file name, so errors from sharded or multi-file models stay traceable.
/// </summary>
/// <remarks>
/// Derives from <see cref="Exception"/> only because the project has no common exception base yet; rebase it
/// when one exists. Deliberately not an <see cref="IOException"/>, so "cannot open" handlers never rewrap it.
/// </remarks>
public sealed class ModelFormatException : Exception
{
    public string FilePath { get; }

    public ModelFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{System.IO.Path.GetFileName(filePath)}: {problem}", inner)
    {
        FilePath = filePath;
    }
}

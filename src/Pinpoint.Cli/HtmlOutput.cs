using System.Text;
using Pinpoint.Models.Formats;

namespace Pinpoint.Cli;

/// <summary>The <c>--html FILE</c> option's path checks and atomic write, shared by every command with an HTML report.</summary>
public static class HtmlOutput
{
    /// <summary>The full path <c>--html</c> names (null without it), checked before the (slow) analysis so a typo fails at once.</summary>
    public static string? ReportPath(CliArgs args, CliOption option)
    {
        if (args.String(option) is not { } file) return null;
        var full = Path.GetFullPath(file);
        try
        {
            AtomicFile.CheckWritable(full);
        }
        catch (IOException e)
        {
            throw new IOException($"--{option.Name}: {e.Message}", e);
        }
        return full;
    }

    public static void Write(string path, string html)
    {
        try
        {
            AtomicFile.Write(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(html)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the HTML report to {path}: {e.Message}", e);
        }
    }

    /// <summary>Says where the report went, in text mode (the JSON has it in its "html" field).</summary>
    public static void Wrote(string? path, CommandOutput output)
    {
        if (path is not null && !output.Json) output.Text.WriteLine($"HTML report written to {path}");
    }
}

using System.Text;
using Pinpoint.Models.Formats;

namespace Pinpoint.Cli;

/// <summary>The <c>--html FILE</c> a command writes its report to: checked before the (slow) work, written atomically, announced.</summary>
public static class HtmlReportFile
{
    /// <summary>The full path the option names (null without it), checked before the work so a typo fails at once.</summary>
    public static string? PathFrom(CliArgs args, CliOption option)
    {
        if (args.String(option) is not { } file) return null;
        var full = Path.GetFullPath(file);
        if (Directory.Exists(full)) throw new IOException($"cannot write the HTML report to {full}: it is a folder");
        var folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new IOException($"cannot write the HTML report to {full}: folder {folder} does not exist");
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
    public static void Announce(string? path, CommandOutput output)
    {
        if (path is not null && !output.Json) output.Text.WriteLine($"HTML report written to {path}");
    }
}

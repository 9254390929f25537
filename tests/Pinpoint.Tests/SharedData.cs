namespace Pinpoint.Tests;

/// <summary>
/// Locates files in ../shared (beside the repository root). Under CI=true a missing file fails the test;
/// elsewhere the test is skipped with a message.
/// </summary>
public static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Full path of a shared file or folder; skips (or fails under CI) when it is missing.</summary>
    public static string Require(string relativePath)
    {
        var path = Path.Combine(Root, relativePath);
        if (File.Exists(path) || Directory.Exists(path)) return path;
        var message = $"shared data missing: {path}";
        if (IsCi) Assert.Fail(message);
        Assert.Skip(message);
        return path;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pinpoint.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"cannot find Pinpoint.slnx above {AppContext.BaseDirectory}");
    }
}

namespace Pinpoint.Bench;

/// <summary>Where the repository and the shared data are, found from the bench binary (built under .artifacts by bench/run).</summary>
public static class BenchPaths
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pinpoint.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new BenchSetupException($"no Pinpoint.slnx above {AppContext.BaseDirectory}; run the bench through bench/run");
    }

    /// <param name="why">What the file is needed for, for the error message.</param>
    public static string SharedFile(string relative, string why)
    {
        var path = Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", relative));
        return File.Exists(path) ? path : throw new BenchSetupException($"shared file missing: {path} ({why})");
    }
}

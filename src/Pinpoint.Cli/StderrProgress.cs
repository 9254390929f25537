namespace Pinpoint.Cli;

/// <summary>
/// Progress of long analyses on stderr, one line per phase rewritten in place ("phase done/total"); silent when
/// stderr is redirected, so logs and tests stay clean.
/// </summary>
public static class StderrProgress
{
    public static Action<string, int, int>? Create()
    {
        if (Console.IsErrorRedirected) return null;
        string? current = null;
        var gate = new object();
        return (phase, done, total) =>
        {
            lock (gate)
            {
                if (current is not null && current != phase) Console.Error.WriteLine();
                current = phase;
                Console.Error.Write($"\r{phase}: {done}/{total}");
                if (done == total)
                {
                    Console.Error.WriteLine();
                    current = null;
                }
            }
        };
    }
}

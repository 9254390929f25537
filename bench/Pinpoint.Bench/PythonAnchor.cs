using System.Diagnostics;
using System.Text.Json;

namespace Pinpoint.Bench;

/// <summary>
/// A PyTorch anchor script under bench/ in --serve mode, kept alive over stdin so the bench can alternate its own
/// rounds with the script's: it prints one JSON line when ready, and answers each "round" line with one JSON line.
/// </summary>
internal sealed class PythonAnchor : IDisposable
{
    private readonly Process _process;
    private readonly string _script;

    /// <summary>The script's first line (its torch version, thread count, ...).</summary>
    public JsonElement Ready { get; }

    private PythonAnchor(Process process, string script)
    {
        _process = process;
        _script = script;
        Ready = ReadJson("start");
    }

    public static PythonAnchor Start(string root, string script, IEnumerable<string> arguments)
    {
        var python = FindPython();
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(root, "bench", script));
        psi.ArgumentList.Add("--serve");
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new BenchSetupException($"could not start {python}");
        return new PythonAnchor(process, "bench/" + script);
    }

    public JsonElement Round()
    {
        _process.StandardInput.WriteLine("round");
        _process.StandardInput.Flush();
        return ReadJson("round");
    }

    private JsonElement ReadJson(string what)
    {
        var line = _process.StandardOutput.ReadLine();
        if (line is null)
        {
            _process.WaitForExit();
            throw new BenchSetupException($"{_script} exited with code {_process.ExitCode} during {what} (its error is above)");
        }
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    /// <summary>
    /// An interpreter that imports torch: $PINPOINT_BENCH_PYTHON, Debian's /usr/bin/python3 (python3-torch, which
    /// bench/run installs when missing), then python3 and python on PATH (a pyenv python3 there usually lacks torch).
    /// </summary>
    private static string FindPython()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PINPOINT_BENCH_PYTHON") is { Length: > 0 } env) candidates.Add(env);
        candidates.AddRange(["/usr/bin/python3", "python3", "python"]);
        var tried = new List<string>();
        foreach (var candidate in candidates.Distinct())
        {
            string outcome;
            try
            {
                var psi = new ProcessStartInfo(candidate) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add("-c");
                psi.ArgumentList.Add("import torch; print(torch.__version__)");
                using var p = Process.Start(psi)!;
                var stderr = p.StandardError.ReadToEndAsync();
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode == 0) return candidate;
                var last = stderr.Result.Trim().Split('\n').LastOrDefault() ?? "";
                outcome = last.Length > 0 ? last : $"exit code {p.ExitCode}";
            }
            catch (System.ComponentModel.Win32Exception)
            {
                outcome = "not found";
            }
            tried.Add($"{candidate} ({outcome})");
        }
        throw new BenchSetupException($"no Python with torch for the PyTorch anchor; tried {string.Join(", ", tried)}. Install it (apt-get install python3-torch) or set PINPOINT_BENCH_PYTHON");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(10_000)) _process.Kill();
            }
        }
        finally
        {
            _process.Dispose();
        }
    }
}

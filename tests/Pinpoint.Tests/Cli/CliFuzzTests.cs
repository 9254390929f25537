using Pinpoint.Cli;

namespace Pinpoint.Tests.Cli;

/// <summary>
/// Random command lines from a seeded generator over every registered command: options in any order and form,
/// values from pools of good and bad ones. Whatever the input: no unhandled exception, no hang, and a failure is one
/// line on stderr with exit 1 or 2 that leaves no file behind. A fixed number of cases on every machine; the
/// wall-clock limit only detects a hang.
/// </summary>
public sealed class CliFuzzTests : IDisposable
{
    private const int Cases = 200;
    private static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(2);

    /// <summary>Commands whose valid runs take seconds, train or serve until stopped: their cases always hold a malformed option.</summary>
    private static readonly HashSet<string> Slow = ["explain", "train", "selfcheck", "score", "serve", "probe", "steer"];

    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-fuzz-").FullName;
    private readonly ITestOutputHelper _log = TestContext.Current.TestOutputHelper!;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task RandomCommandLinesNeverCrash()
    {
        var stories = SharedData.Require("models/stories260K/stories260K.bin");
        var text = Path.Combine(_temp, "notes.txt");
        File.WriteAllText(text, "just some text\n");
        var work = Directory.CreateDirectory(Path.Combine(_temp, "work")).FullName;
        string[] good = ["1", "2", "3", "hi", " the", "Once upon a time", stories, SharedData.Require("models/stories260K/tok512.model"), "f32", "bf16"];
        string[] bad = ["0", "-1", "100000", "abc", "", "1e999", "NaN", "--", "=", "\u0000", text, Path.Combine(_temp, "missing.gguf"), "/proc/x.html", "a,b", "5,,6", "999999999999"];

        var run = Task.Run(() =>
        {
            var random = new Random(20261206);
            var outcomes = new Dictionary<int, int>();
            for (int i = 0; i < Cases; i++)
            {
                var args = Generate(random, good, bad, work);
                var before = Snapshot(_temp);
                var r = Cli.Run(args);
                outcomes[r.Code] = outcomes.GetValueOrDefault(r.Code) + 1;
                var what = $"case {i}: pinpoint {string.Join(" ", args.Select(a => $"'{a}'"))}";
                Assert.DoesNotContain("Unhandled exception", r.Err);
                Assert.DoesNotContain("internal error", r.Err);
                if (r.Code != 0)
                {
                    CliContract.AssertOneLineFailure(r with { Out = args.Contains("--json") ? r.Out : "" }, what);
                    Assert.True(before.SequenceEqual(Snapshot(_temp)), $"{what}: a failure left files behind");
                }
                // Successful runs may write what they were asked to (an export); start every case from the same folder.
                foreach (var entry in Directory.EnumerateFileSystemEntries(work)) Delete(entry);
            }
            return outcomes;
        }, TestContext.Current.CancellationToken);
        var outcomes = await run.WaitAsync(HangLimit, TestContext.Current.CancellationToken);
        _log.WriteLine($"{Cases} random command lines: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"exit {o.Key}: {o.Value}")));
        Assert.Equal(Cases, outcomes.Values.Sum());
        Assert.True(outcomes.GetValueOrDefault(0) > 0 && outcomes.GetValueOrDefault(1) > 0 && outcomes.GetValueOrDefault(2) > 0,
            "the generator should reach successes, bad input and usage errors");
    }

    /// <summary>One command line: a command, a few of its options in random forms with values from the pools, maybe a bad piece.</summary>
    private static string[] Generate(Random random, string[] good, string[] bad, string work)
    {
        var command = CliApp.Commands[random.Next(CliApp.Commands.Count)];
        var options = command.Options.Concat(CliApp.CommonOptions.Where(o => o.Name is not ("help" or "verbose"))).ToList();
        var args = new List<string> { command.Name };
        bool slow = Slow.Contains(command.Name);
        bool poisoned = false;
        int count = random.Next(0, 5);
        for (int k = 0; k < count; k++)
        {
            var option = options[random.Next(options.Count)];
            var name = random.Next(8) == 0 && option.Short is { } s ? $"-{s}" : $"--{option.Name}";
            if (option.IsFlag)
            {
                args.Add(name);
                continue;
            }
            bool useBad = random.Next(5) == 0 || (slow && !poisoned);
            var value = option.Name == "out" && !useBad ? Path.Combine(work, "out" + k) : (useBad ? bad : good)[random.Next((useBad ? bad : good).Length)];
            poisoned |= useBad;
            if (random.Next(4) == 0 && name.StartsWith("--", StringComparison.Ordinal)) args.Add($"{name}={value}");
            else args.AddRange([name, value]);
        }
        if (slow || random.Next(10) == 0)
        {
            args.Add(random.Next(3) switch { 0 => "--no-such-option", 1 => "stray", _ => "--json=1" });
        }
        // Keep runs of the other commands on the tiny model unless the case picked its own.
        if (command.Options.Any(o => o.Name == "model") && !args.Contains("--model") && !args.Any(a => a.StartsWith("--model=", StringComparison.Ordinal)))
            args.AddRange(["--model", good[6]]);
        return [.. args];
    }

    private static string[] Snapshot(string folder) =>
        Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    private static void Delete(string path)
    {
        if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        else File.Delete(path);
    }
}

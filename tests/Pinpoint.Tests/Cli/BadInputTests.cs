using System.Buffers.Binary;
using Pinpoint.Cli;

namespace Pinpoint.Tests.Cli;

/// <summary>The CLI's error contract, checked on one invocation.</summary>
public static class CliContract
{
    /// <summary>One bad invocation: the arguments, the environment the CLI sees, the exit code and a text the one line must hold.</summary>
    public sealed record Case(string[] Args, int Code, string Mention, Dictionary<string, string>? Environment = null)
    {
        public override string ToString() => string.Join(" ", Args);
    }

    /// <summary>Runs <paramref name="c"/> and checks the contract; the folder <paramref name="watched"/> must be unchanged afterwards.</summary>
    public static void AssertCleanFailure(Case c, string watched)
    {
        var before = Snapshot(watched);
        var cwdBefore = Snapshot(Environment.CurrentDirectory, recursive: false);
        var r = Cli.RunWith(c.Environment ?? [], c.Args);
        CliContract.AssertOneLineFailure(r, c.ToString());
        Assert.True(r.Code == c.Code, $"{c}: exit {r.Code}, expected {c.Code}: {r.Err}");
        Assert.True(r.Err.Contains(c.Mention, StringComparison.Ordinal), $"{c}: '{r.Err.TrimEnd()}' does not mention '{c.Mention}'");
        Assert.Equal(before, Snapshot(watched));
        Assert.Equal(cwdBefore, Snapshot(Environment.CurrentDirectory, recursive: false));
    }

    /// <summary>The invariants every failure keeps, whatever the input: exit 1 or 2, one line on stderr, no stack, empty stdout.</summary>
    public static void AssertOneLineFailure(CliResult r, string what)
    {
        Assert.True(r.Code is 1 or 2, $"{what}: exit {r.Code}: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{what}: {lines.Length} lines on stderr:\n{r.Err}");
        Assert.StartsWith("pinpoint", lines[0]);
        Assert.DoesNotContain("Unhandled exception", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("internal error", r.Err);
        Assert.True(r.Out == "", $"{what}: stdout not empty:\n{r.Out}");
    }

    private static string[] Snapshot(string folder, bool recursive = true) =>
        Directory.EnumerateFileSystemEntries(folder, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Select(p => Directory.Exists(p) ? p + "/" : $"{p} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p).Ticks}")
            .Order(StringComparer.Ordinal).ToArray();
}

/// <summary>
/// The CLI's error contract over a table of bad inputs: every command from the registry with malformed options, and
/// each problem a new user hit (issue 11). Every case must exit 1 (bad input) or 2 (usage), print exactly one line
/// on stderr naming the culprit, no stack trace, nothing on stdout, and leave no file behind.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-bad-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>Malformed options, generated for every registered command so new commands are covered without edits here.</summary>
    public static IEnumerable<CliContract.Case> OptionCases()
    {
        foreach (var command in CliApp.Commands)
        {
            var n = command.Name;
            yield return new([n, "--no-such-option"], 2, "--no-such-option");
            yield return new([n, "stray"], 2, "'stray'");
            yield return new([n, "--json", "--json"], 2, "--json");
            yield return new([n, "--json=yes"], 2, "--json");
            foreach (var option in command.Options)
            {
                if (option.IsFlag) yield return new([n, $"--{option.Name}=x"], 2, $"--{option.Name}");
                else yield return new([n, $"--{option.Name}"], 2, $"--{option.Name}");
            }
        }
    }

    [Fact]
    public void EveryCommandRejectsMalformedOptions()
    {
        var cases = OptionCases().ToList();
        Assert.True(cases.Count >= 8 * 5, $"only {cases.Count} cases");
        foreach (var c in cases) CliContract.AssertCleanFailure(c, _temp);
    }

    [Fact]
    public void UnknownCommandIsOneLine()
    {
        var r = Cli.Run("explode", "--json");
        CliContract.AssertOneLineFailure(r, "explode");
        Assert.Equal(2, r.Code);
        Assert.Contains("'explode'", r.Err);
    }

    /// <summary>The problems of issue 11 that fail before any result, each with the text its message must hold.</summary>
    private IEnumerable<CliContract.Case> IssueCases()
    {
        var stories = SharedData.Require("models/stories260K/stories260K.bin");
        var gpt2 = SharedData.Require("models/gpt2-random");
        var tok512 = SharedData.Require("models/stories260K/tok512.model");
        const string Prompt = "Lily had a ball. She gave the ball to";
        var report = Path.Combine(_temp, "report.html");

        // 3: a bad kernel path is a one-line error, not a TypeInitializationException.
        yield return new(["run", "--prompt", "hi", "--json"], 1, "PINPOINT_KERNEL=avx9", new() { ["PINPOINT_KERNEL"] = "avx9" });
        yield return new(["info", "--json"], 1, "PINPOINT_KERNEL=7", new() { ["PINPOINT_KERNEL"] = "7" });
        yield return new(["info", "--json"], 1, "PINPOINT_QUANTIZED_WEIGHTS=swap", new() { ["PINPOINT_QUANTIZED_WEIGHTS"] = "swap" });
        // 4: a tokenizer that cannot belong to the model is refused when loading, before any run.
        yield return new(["explain", "--tokenizer", tok512, "--json", "--html", report], 1, "512 tokens");
        yield return new(["run", "--prompt", "hi", "--tokenizer", tok512, "--json"], 1, "512 tokens");
        // 5: --verify-k beyond what the model has is an error, not a silent clamp and hours of work.
        yield return new(["explain", "--verify-k", "100000", "--json", "--html", report], 2, "--verify-k 100000");
        // A port outside TCP's range is a usage error naming the option, not .NET's ArgumentOutOfRangeException text.
        yield return new(["serve", "--port", "99999"], 2, "--port: 99999");
        yield return new(["explain", "--model", stories, "--dataset", WriteDataset("ok.jsonl", Prompt), "--verify-k", "100000", "--json"], 2, "--verify-k");
        // 7: a counterfactual identical to the prompt measures nothing.
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--foil", " the", "--counterfactual", Prompt, "--json", "--html", report],
            1, "counterfactual");
        // 8/9: files are judged by content.
        yield return new(["run", "--model", gpt2, "--tokenizer", WriteText("notes.json", "{\"a\": 1}"), "--prompt", "hi", "--json"], 1, "not a tokenizer");
        yield return new(["run", "--model", WriteText("model.txt", "Once upon a time there was a model file that was not."), "--prompt", "hi", "--json"], 1, "not a model file");
        yield return new(["info", "--model", CorruptMagic(), "--json"], 1, "not a GGUF file");
        yield return new(["info", "--model", Path.Combine(_temp, "nowhere.gguf"), "--json"], 1, "nowhere.gguf");
        yield return new(["run", "--model", gpt2, "--tokenizer", Path.Combine(_temp, "nowhere.json"), "--prompt", "hi"], 1, "nowhere.json");
        // 10: NaN weights are named; dataset lines are named by FILE:LINE; --html is checked before the model runs.
        yield return new(["run", "--model", WithNaN(gpt2), "--prompt", "hi", "--json"], 1, "non-finite");
        var longPrompt = string.Join(" ", Enumerable.Repeat("Once upon a time", 200));
        var dataset = WriteDataset("long.jsonl", Prompt, longPrompt);
        yield return new(["explain", "--model", stories, "--dataset", dataset, "--json", "--html", report], 1, "long.jsonl:2: prompt:");
        yield return new(["explain", "--html", "/proc/pinpoint-report.html", "--json"], 1, "/proc/pinpoint-report.html: new files cannot be created");
        yield return new(["explain", "--html", Path.Combine(_temp, "missing", "r.html"), "--json"], 1, "does not exist");
        yield return new(["explain", "--html", _temp, "--json"], 1, "it is a folder");
        // Issue 16: a metric that needs a foil without one, a position outside the prompt, an empty target, an unknown metric.
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--metric", "logit-diff", "--json"], 2, "--foil is required");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--metric", "logprob-diff", "--json"], 1, "--metric logprob-diff compares the target");
        yield return new(["circuit", "--model", stories, "--metric", "kl", "--edges", "3", "--json"], 1, "faithfulness is a share of a target-vs-foil difference");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--foil", " the", "--position", "40", "--json"], 1, "position 40 is outside the prompt");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", "", "--foil", " the", "--json"], 1, "the target is empty");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--foil", " the", "--metric", "ppl", "--json"], 2, "--metric: 'ppl'");
        yield return new(["explain", "--model", stories, "--dataset", WriteDataset("metric.jsonl", Prompt), "--position", "1", "--json"], 2, "--position explains one prediction");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--foil", " the", "--counterfactual", Prompt, "--counterfactuals-from", WriteDataset("pool.jsonl", Prompt), "--json"], 2, "not both");
        yield return new(["explain", "--model", stories, "--prompt", Prompt, "--target", " her", "--foil", " the", "--counterfactuals-from", WriteDataset("short.jsonl", "Lily"), "--json"], 1, "no prompt has the prompt's");
        // 6: export refuses a folder that holds files, and a missing parent, before loading anything.
        var taken = Directory.CreateDirectory(Path.Combine(_temp, "taken")).FullName;
        File.WriteAllText(Path.Combine(taken, "config.json"), "{}");
        yield return new(["export", "--model", stories, "--out", taken, "--json"], 1, "add --force");
        yield return new(["export", "--model", stories, "--out", Path.Combine(_temp, "no", "such", "dir"), "--json"], 1, "does not exist");
    }

    /// <summary>Items 1, 2 and 10 of issue 11 for train: folders, resume, config fields and divergence.</summary>
    [Fact]
    public void TrainProblemsFailCleanly()
    {
        var corpus = SharedData.Require("corpus/tinyshakespeare.txt");
        var run = Directory.CreateDirectory(Path.Combine(_temp, "run")).FullName;
        Directory.CreateDirectory(Path.Combine(run, "checkpoints", "step-0000001"));
        var config = WriteText("tiny.json", $$"""
            {"architecture": "gpt2", "d_model": 16, "n_layers": 1, "n_heads": 2, "context": 16, "vocab_size": 300, "batch_size": 2,
             "steps": 3, "warmup_steps": 0, "eval_every": 2, "eval_batches": 1, "checkpoint_every": 0, "corpus": ["{{corpus}}"], "metrics": []}
            """);
        foreach (var c in new CliContract.Case[]
        {
            new(["train", "--config", config, "--out", run, "--json"], 1, "add --resume"),
            new(["train", "--config", config, "--out", Path.Combine(_temp, "none"), "--resume", "--json"], 1, "--resume: nothing to resume"),
            new(["train", "--config", WriteText("typo.json", "{\"stepz\": 3}"), "--out", Path.Combine(_temp, "new"), "--json"], 1, "stepz"),
            new(["train", "--config", WriteText("metric.json", "{\"metrics\": [\"inductoin\"]}"), "--out", Path.Combine(_temp, "new"), "--json"], 1, "inductoin"),
            new(["train", "--config", config, "--out", Path.Combine(_temp, "new"), "--init", run, "--resume", "--json"], 2, "give one of them"),
            new(["train", "--config", config, "--out", Path.Combine(_temp, "new"), "--init", Path.Combine(_temp, "no-checkpoint"), "--json"], 1, "no such checkpoint folder"),
            new(["train", "--config", WriteText("repeat.json", "{\"repeat_fraction\": 2}"), "--out", Path.Combine(_temp, "new"), "--json"], 1, "repeat_fraction must be in [0, 1]"),
        })
            CliContract.AssertCleanFailure(c, _temp);

        // A learning rate that makes the loss non-finite stops with one line; what was written stays valid JSON.
        var diverged = Path.Combine(_temp, "diverged");
        var r = Cli.Run("train", "--config", config, "--out", diverged, "--lr", "1e30", "--steps", "40", "--json");
        CliContract.AssertOneLineFailure(r, "lr 1e30");
        Assert.Contains("became", r.Err);
        foreach (var line in File.ReadLines(Path.Combine(diverged, "metrics.jsonl"))) System.Text.Json.JsonDocument.Parse(line).Dispose();
    }

    [Fact]
    public void IssueProblemsFailCleanly()
    {
        foreach (var c in IssueCases().ToList()) CliContract.AssertCleanFailure(c, _temp);
    }

    [Fact]
    public void HtmlErrorsNeverNameTheTemporaryFile()
    {
        var r = Cli.Run("explain", "--html", "/proc/x.html", "--json");
        Assert.DoesNotContain(".tmp", r.Err);
    }

    [Fact]
    public void VerboseAndPinpointDebugShowTheStack()
    {
        var quiet = Cli.RunWith([], "info", "--model", Path.Combine(_temp, "none.gguf"));
        CliContract.AssertOneLineFailure(quiet, "quiet");
        foreach (var r in new[]
        {
            Cli.RunWith([], "info", "--model", Path.Combine(_temp, "none.gguf"), "--verbose"),
            Cli.RunWith(new() { ["PINPOINT_DEBUG"] = "1" }, "info", "--model", Path.Combine(_temp, "none.gguf")),
        })
        {
            Assert.Equal(1, r.Code);
            Assert.StartsWith(quiet.Err.TrimEnd(), r.Err);
            Assert.Contains("   at ", r.Err);
        }
    }

    private sealed class ThrowingCommand(Exception e) : Command
    {
        public override string Name => "boom";
        public override string Summary => "fails";
        public override IReadOnlyList<CliOption> Options => [];
        public override Type ResultType => typeof(string);
        public override int Execute(CliArgs args, CommandOutput output) => throw e;
    }

    [Fact]
    public void AnyExceptionBecomesOneLineNamingIt()
    {
        var wrapped = new TypeInitializationException("Some.Type", new InvalidOperationException("line one\nline two"));
        foreach (var (e, code, mention) in new (Exception, int, string)[]
        {
            (new InvalidOperationException("state went wrong"), 1, "internal error (InvalidOperationException): state went wrong"),
            (wrapped, 1, "internal error (InvalidOperationException): line one line two"),
            (new ArgumentOutOfRangeException("id", 512, "token id 512 is outside"), 1, "token id 512 is outside"),
            (new CliException("--x is bad"), 2, "--x is bad (see 'pinpoint boom --help')"),
        })
        {
            using StringWriter stdout = new(), stderr = new();
            int exit = CliApp.Run(["boom"], stdout, stderr, _ => null, [new ThrowingCommand(e)]);
            Assert.Equal(code, exit);
            var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.Contains(mention, lines[0]);
        }
    }

    private string WriteText(string name, string text)
    {
        var path = Path.Combine(_temp, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteDataset(string name, params string[] prompts) =>
        WriteText(name, string.Concat(prompts.Select(p => $"{{\"prompt\": \"{p}\", \"target\": \" her\", \"foil\": \" the\"}}\n")));

    private string CorruptMagic()
    {
        var bytes = File.ReadAllBytes(SharedData.Require("models/stories260K/stories260K.gguf"));
        bytes[3] = (byte)'X';
        var path = Path.Combine(_temp, "corrupt.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A copy of a Hugging Face folder whose first weight is NaN (0xFFFF… is NaN in f32, f16 and bf16).</summary>
    private string WithNaN(string folder)
    {
        var copy = Directory.CreateDirectory(Path.Combine(_temp, "nan-model")).FullName;
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var weights = Path.Combine(copy, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        bytes.AsSpan(dataStart, 4).Fill(0xFF);
        File.WriteAllBytes(weights, bytes);
        return copy;
    }
}

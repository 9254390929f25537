using System.Text.Json;
using Pinpoint.Cli;

namespace Pinpoint.Tests.Cli;

/// <summary>What one <c>pinpoint</c> invocation printed and returned.</summary>
public sealed record CliResult(int Code, string Out, string Err)
{
    public JsonElement Json()
    {
        Assert.True(Code == 0, $"exit {Code}: {Err}");
        return JsonDocument.Parse(Out).RootElement.Clone();
    }

    /// <summary>A failure reported the way users see it: a one-line message naming <paramref name="mention"/>, no stack trace, nothing on stdout.</summary>
    public void AssertFailed(int code, string mention)
    {
        Assert.Equal(code, Code);
        Assert.Equal("", Out);
        Assert.Contains(mention, Err);
        Assert.StartsWith("pinpoint", Err);
        Assert.DoesNotContain("   at ", Err);
    }
}

/// <summary>Runs the CLI in-process with captured stdout/stderr, and names the shared models it is tested on.</summary>
public static class Cli
{
    public static CliResult Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs with <paramref name="environment"/> as the only environment variables the CLI sees (the process's stay untouched).</summary>
    public static CliResult RunWith(Dictionary<string, string> environment, params string[] args)
    {
        using StringWriter stdout = new(), stderr = new();
        int code = CliApp.Run(args, stdout, stderr, name => environment.GetValueOrDefault(name));
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every shared model in every format the loader reads.</summary>
    public static TheoryData<string> Models => new() { "stories-bin", "stories-gguf", "stories-hf", "gpt2-hf", "gpt2-gguf" };

    public static TheoryData<string> StoriesModels => new() { "stories-bin", "stories-gguf", "stories-hf" };

    /// <summary>The <c>--model</c> (and <c>--tokenizer</c>) arguments for one of <see cref="Models"/>.</summary>
    public static string[] ModelArgs(string model) => model switch
    {
        "stories-bin" => ["--model", SharedData.Require("models/stories260K/stories260K.bin")],
        "stories-gguf" => ["--model", SharedData.Require("models/stories260K/stories260K.gguf")],
        "stories-hf" => ["--model", SharedData.Require("models/stories260K/hf"), "--tokenizer", SharedData.Require("models/stories260K/tok512.model")],
        "gpt2-hf" => ["--model", SharedData.Require("models/gpt2-random")],
        "gpt2-gguf" => ["--model", SharedData.Require("models/gpt2-random/model.gguf")],
        _ => throw new ArgumentException($"unknown test model {model}"),
    };

    public static CliResult RunOn(string command, string model, params string[] args) => Run([command, .. ModelArgs(model), .. args]);

    public static int[] Ints(this JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    public static float[] Floats(this JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();
}

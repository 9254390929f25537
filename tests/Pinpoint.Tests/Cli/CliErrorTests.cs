namespace Pinpoint.Tests.Cli;

/// <summary>Bad input exits 1 and usage errors 2, with one message on stderr naming the culprit and nothing on stdout.</summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-cli-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData("info")]
    [InlineData("run")]
    [InlineData("generate")]
    public void MissingModelPathIsNamed(string command)
    {
        var path = Path.Combine(_temp, "nowhere", "model.gguf");
        string[] prompt = command == "info" ? [] : ["--prompt", "hi"];
        Cli.Run([command, "--model", path, .. prompt, "--json"]).AssertFailed(1, path);
    }

    [Theory]
    [InlineData("stories260K/stories260K.gguf")]
    [InlineData("stories260K/stories260K.bin")]
    [InlineData("gpt2-random/model.gguf")]
    public void TruncatedModelFileIsNamed(string shared)
    {
        var source = SharedData.Require("models/" + shared);
        var bytes = File.ReadAllBytes(source);
        var truncated = Path.Combine(_temp, Path.GetFileName(source));
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        if (shared.EndsWith(".bin")) File.Copy(Path.Combine(Path.GetDirectoryName(source)!, "tok512.bin"), Path.Combine(_temp, "tok512.bin"));
        Cli.Run("info", "--model", truncated, "--json").AssertFailed(1, Path.GetFileName(source));
        Cli.Run("run", "--model", truncated, "--prompt", "hi").AssertFailed(1, Path.GetFileName(source));
    }

    [Fact]
    public void TruncatedSafetensorsInAFolderIsNamed()
    {
        var folder = SharedData.Require("models/gpt2-random");
        foreach (var name in new[] { "config.json", "tokenizer.json" }) File.Copy(Path.Combine(folder, name), Path.Combine(_temp, name));
        var bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        File.WriteAllBytes(Path.Combine(_temp, "model.safetensors"), bytes[..(bytes.Length - 100)]);
        Cli.Run("info", "--model", _temp, "--json").AssertFailed(1, "model.safetensors");
    }

    [Fact]
    public void UnknownOptionsAndCommandsAreUsageErrors()
    {
        Cli.RunOn("run", "stories-gguf", "--prompt", "hi", "--bogus", "--json").AssertFailed(2, "--bogus");
        Cli.RunOn("generate", "stories-gguf", "--prompt", "hi", "-x", "3").AssertFailed(2, "-x");
        Cli.Run("explode").AssertFailed(2, "'explode'");
        Cli.RunOn("run", "stories-gguf", "--json").AssertFailed(2, "--prompt");
        Cli.RunOn("run", "stories-gguf", "--prompt", "hi", "--ids", "1", "--json").AssertFailed(2, "--ids");
        Cli.RunOn("run", "stories-gguf", "--prompt", "hi", "--top", "0").AssertFailed(2, "--top");
        Cli.RunOn("generate", "stories-gguf", "--prompt", "hi", "-n", "many").AssertFailed(2, "--max-new-tokens");
    }

    [Theory]
    [InlineData("stories-gguf", "1,2,512")]
    [InlineData("gpt2-hf", "-1")]
    [InlineData("gpt2-gguf", "5,401")]
    public void IdsOutsideTheVocabularyAreNamed(string model, string ids)
    {
        var r = Cli.RunOn("run", model, "--ids", ids, "--json");
        r.AssertFailed(1, "--ids");
        Assert.Contains(ids.Split(',')[^1], r.Err);
    }

    [Fact]
    public void InputsLongerThanTheContextAreNamed()
    {
        var prompt = string.Join(" ", Enumerable.Repeat("hello", 200));
        Cli.RunOn("run", "gpt2-hf", "--prompt", prompt, "--json").AssertFailed(1, "prompt");
        Cli.RunOn("generate", "gpt2-gguf", "--prompt", prompt, "--json").AssertFailed(1, "prompt");
        Cli.RunOn("run", "stories-bin", "--prompt", string.Join(" ", Enumerable.Repeat("Once upon a time", 200))).AssertFailed(1, "context");
        Cli.RunOn("run", "gpt2-hf", "--ids", string.Join(",", Enumerable.Repeat(5, 129)), "--json").AssertFailed(1, "--ids");
    }

    [Fact]
    public void InvalidSamplingSettingsAreBadInput()
    {
        Cli.RunOn("generate", "gpt2-gguf", "--prompt", "hi", "--temperature", "-1", "--json").AssertFailed(1, "temperature");
        Cli.RunOn("generate", "gpt2-gguf", "--prompt", "hi", "--top-p", "0", "--json").AssertFailed(1, "top-p");
    }
}

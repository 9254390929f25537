using Pinpoint.Models.Formats;

namespace Pinpoint.Tests.Cli;

/// <summary>
/// <c>pinpoint export</c> from every format the loader reads: the Hugging Face folder it writes (tokenizer converted
/// to tokenizer.json, encoded by Hugging Face's own tokenizers) gives the same ids and logits as the original.
/// </summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-export-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>Plain words, punctuation, a newline and characters outside the vocabulary (byte fallback).</summary>
    private static readonly string[] Prompts = ["Once upon a time, Lily met a dog", "The cat said: \"no!\"\nThen it ran.", "Zoë ate crème brûlée 😀 today"];

    [Theory]
    [InlineData("models/stories260K/stories260K.bin")]
    [InlineData("models/stories260K/stories260K.gguf")]
    [InlineData("models/gpt2-random/model.gguf")]
    public void ExportedFolderGivesTheSameIdsAndLogits(string shared)
    {
        var source = SharedData.Require(shared);
        var folder = Path.Combine(_temp, "out");
        var export = Cli.Run("export", "--model", source, "--out", folder, "--dtype", "f32", "--json").Json();
        Assert.Equal(folder, export.GetProperty("out").GetString());
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        foreach (var prompt in Prompts)
        {
            var original = Cli.Run("run", "--model", source, "--prompt", prompt, "--logits", "--json").Json();
            var exported = Cli.Run("run", "--model", folder, "--prompt", prompt, "--logits", "--json").Json();
            Assert.Equal(original.GetProperty("ids").Ints(), exported.GetProperty("ids").Ints());
            var a = original.GetProperty("logits").Floats();
            var b = exported.GetProperty("logits").Floats();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-3, $"{prompt}: logit {i}: {a[i]} vs {b[i]}");
        }
    }

    [Fact]
    public void ANonEmptyFolderIsReplacedOnlyWithForce()
    {
        var model = SharedData.Require("models/stories260K/stories260K.bin");
        var folder = Directory.CreateDirectory(Path.Combine(_temp, "taken")).FullName;
        File.WriteAllText(Path.Combine(folder, "other-model.txt"), "keep me");
        CliContract.AssertCleanFailure(new CliContract.Case(["export", "--model", model, "--out", folder], 1, "--force"), _temp);
        Assert.True(File.Exists(Path.Combine(folder, "other-model.txt")));

        Cli.Run("export", "--model", model, "--out", folder, "--force", "--json").Json();
        Assert.False(File.Exists(Path.Combine(folder, "other-model.txt")));
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.Equal([folder], Directory.GetFileSystemEntries(_temp));
    }

    [Fact]
    public void AFailedWriteLeavesNothingBehind()
    {
        var fresh = Path.Combine(_temp, "fresh");
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(fresh, replace: true, dir =>
        {
            File.WriteAllText(Path.Combine(dir, "half.bin"), "x");
            throw new InvalidOperationException("disk full");
        }));
        Assert.Empty(Directory.GetFileSystemEntries(_temp));

        var existing = Directory.CreateDirectory(Path.Combine(_temp, "existing")).FullName;
        File.WriteAllText(Path.Combine(existing, "old.txt"), "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(existing, replace: true, _ => throw new InvalidOperationException("fail")));
        Assert.Equal([Path.Combine(existing, "old.txt")], Directory.GetFileSystemEntries(existing));
        Assert.Equal([existing], Directory.GetFileSystemEntries(_temp));
        Assert.Throws<IOException>(() => AtomicFolder.Write(existing, replace: false, _ => { }));
    }
}

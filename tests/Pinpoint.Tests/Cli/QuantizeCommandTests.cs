using System.Text.Json;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Cli;

public class QuantizeCommandTests
{
    [Fact]
    public void WritesAQuantizedFileTheOtherCommandsRun()
    {
        using var dir = new TempDir();
        var output = dir.File("q8.gguf");
        var json = Cli.Run("quantize", "--model", SharedData.Require("models/stories260K/stories260K.gguf"), "--out", output, "--json").Json();
        // Every 64-wide matrix is Q8_0; the norms and the 172-wide ffn_down rows (not whole blocks) stay F32.
        var types = json.GetProperty("types").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!, t => t.GetProperty("tensors").GetInt32());
        Assert.Equal(32, types["Q8_0"]);
        Assert.Equal(16, types["F32"]);
        Assert.True(json.GetProperty("bytes").GetInt64() < json.GetProperty("source_bytes").GetInt64() / 2);

        var info = Cli.Run("info", "--model", output, "--json").Json();
        Assert.Contains("q8_0", info.ToString(), StringComparison.OrdinalIgnoreCase);
        var run = Cli.Run("run", "--model", output, "--prompt", "Once upon a time", "--json").Json();
        Assert.Equal(JsonValueKind.Array, run.GetProperty("top").ValueKind);
    }

    [Fact]
    public void BadArgumentsAreOneLine()
    {
        using var dir = new TempDir();
        var model = SharedData.Require("models/stories260K/stories260K.gguf");
        Cli.Run("quantize", "--model", model, "--out", dir.File("x.gguf"), "--type", "q3_k").AssertFailed(2, "--type must be q8_0 or q4_k_m");
        Cli.Run("quantize", "--model", SharedData.Require("models/stories260K/stories260K.bin"), "--out", dir.File("x.gguf")).AssertFailed(1, "GGUF files only");
        Cli.Run("quantize", "--model", dir.File("missing.gguf"), "--out", dir.File("x.gguf")).AssertFailed(1, "missing.gguf");
    }
}

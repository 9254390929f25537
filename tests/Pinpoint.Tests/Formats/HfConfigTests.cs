using System.Text.Json;
using Pinpoint.Models.Formats;

namespace Pinpoint.Tests.Formats;

public class HfConfigTests
{
    private static HfConfig Parse(string json) => HfConfig.Parse(JsonDocument.Parse(json).RootElement, "config.json");

    [Fact]
    public void ReadsAliasesSeparatelyAndKeepsRaw()
    {
        var c = Parse("""
            {"model_type": "gpt_neox", "hidden_size": 512, "num_attention_heads": 8, "rotary_pct": 0.25,
             "partial_rotary_factor": 0.5, "layer_norm_eps": 1e-5, "use_parallel_residual": true,
             "rope_scaling": {"type": "linear", "factor": 2.0}, "rope_theta": 10000, "eos_token_id": [0, 2],
             "attention_bias": false, "head_dim": 64, "n_inner": null, "custom": {"x": 1}}
            """);
        Assert.Equal("gpt_neox", c.ModelType);
        Assert.Equal(0.25, c.RotaryPct);
        Assert.Equal(0.5, c.PartialRotaryFactor);
        Assert.Equal(1e-5, c.LayerNormEps);
        Assert.Null(c.RmsNormEps);
        Assert.True(c.UseParallelResidual);
        Assert.False(c.AttentionBias);
        Assert.Equal("linear", c.RopeScaling!.Value.GetProperty("type").GetString());
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Equal([0, 2], c.EosTokenIds!);
        Assert.Null(c.NInner);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(1, c.Raw.GetProperty("custom").GetProperty("x").GetInt32());
    }

    [Theory]
    [InlineData("""{"hidden_size": "64"}""", "'hidden_size' is string")]
    [InlineData("""{"hidden_size": 64.5}""", "expected an integer")]
    [InlineData("""{"hidden_size": 0}""", "expected a positive integer")]
    [InlineData("""{"num_hidden_layers": 1e12}""", "expected an integer")]
    [InlineData("""{"rms_norm_eps": "1e-5"}""", "expected a finite number")]
    [InlineData("""{"tie_word_embeddings": 1}""", "expected true or false")]
    [InlineData("""{"architectures": "LlamaForCausalLM"}""", "expected an array of strings")]
    [InlineData("""{"eos_token_id": [1, "x"]}""", "expected an integer")]
    [InlineData("""{"rope_scaling": 2}""", "expected an object")]
    [InlineData("""[1]""", "not a JSON object")]
    public void WrongTypesAreNamed(string json, string expected)
    {
        var e = Assert.Throws<ModelFormatException>(() => Parse(json));
        Assert.StartsWith("config.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadFilesAreFormatErrors()
    {
        using var dir = new FormatTestUtil.TempDir();
        var path = dir.File("config.json");
        File.WriteAllText(path, "{\"hidden_size\": ");
        Assert.Contains("invalid JSON", Assert.Throws<ModelFormatException>(() => HfConfig.Read(path)).Message, StringComparison.Ordinal);
        Assert.Contains("cannot open", Assert.Throws<ModelFormatException>(() => HfConfig.Read(dir.File("none.json"))).Message, StringComparison.Ordinal);
    }
}

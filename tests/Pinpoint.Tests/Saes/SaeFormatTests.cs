using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Pinpoint.Engine.Tensors;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Saes;

public class SaeFormatTests
{
    internal static Sae RandomSae(SaeArchitecture arch, int dIn = 6, int dSae = 10, int seed = 1)
    {
        var rng = new Random(seed);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return new Sae(dIn, dSae, arch, 3, applyBDecToInput: true, R(dIn * dSae), R(dIn * dSae), R(dSae), R(dIn),
            arch == SaeArchitecture.JumpRelu ? R(dSae).Select(Math.Abs).ToArray() : null)
        {
            Metadata = new SaeMetadata { HookName = "blocks.1.hook_resid_post", ModelName = "m", ContextSize = 64, PrependBos = false, DatasetPath = "d.txt" },
        };
    }

    private static float[] Encode(Sae sae, float[] x, int rows)
    {
        var acts = new float[rows * sae.DSae];
        sae.Encode(x, rows, acts);
        return acts;
    }

    [Theory]
    [InlineData(SaeArchitecture.Standard)]
    [InlineData(SaeArchitecture.TopK)]
    [InlineData(SaeArchitecture.JumpRelu)]
    public void WritesAndReadsSaeLensFormat(SaeArchitecture arch)
    {
        using var dir = new TempDir();
        var sae = RandomSae(arch);
        var density = Enumerable.Range(0, sae.DSae).Select(i => -i / 3f).ToArray();
        SaeLensFormat.Write(dir.Path, sae, density);
        var cfg = JsonNode.Parse(File.ReadAllText(dir.File("cfg.json")))!.AsObject();
        Assert.Equal(6, (int)cfg["d_in"]!);
        Assert.Equal(1, (int)cfg["hook_layer"]!);
        Assert.Equal("blocks.1.hook_resid_post", (string)cfg["metadata"]!["hook_name"]!);
        using (var weights = TensorFile.Open(dir.File("sae_weights.safetensors")))
        {
            Assert.Equal([6, 10], weights["W_enc"].Shape.ToArray());
            Assert.Equal([10, 6], weights["W_dec"].Shape.ToArray());
            Assert.Equal(sae.EncoderRows[1 * 6 + 2], weights["W_enc"][2, 1]); // W_enc[i, j] = encoder row j, input i
        }
        var back = SaeLensFormat.Read(dir.Path);
        Assert.Equal(arch, back.Architecture);
        Assert.Equal(sae.EncoderRows, back.EncoderRows);
        Assert.Equal(sae.Decoder, back.Decoder);
        Assert.Equal(sae.Threshold, back.Threshold);
        Assert.Equal(sae.Metadata, back.Metadata);
        Assert.Equal(density, SaeLensFormat.ReadLogDensity(dir.Path, sae.DSae));
    }

    [Fact]
    public void ReadsPreV6ConfigWithTopKInActivationKwargs()
    {
        using var dir = new TempDir();
        var sae = RandomSae(SaeArchitecture.TopK);
        SaeLensFormat.Write(dir.Path, sae);
        File.WriteAllText(dir.File("cfg.json"), """
            {"architecture": "standard", "d_in": 6, "d_sae": 10, "dtype": "float32", "hook_point": "blocks.1.hook_resid_post",
             "hook_point_layer": 1, "model_name": "m", "context_size": 64, "prepend_bos": true, "apply_b_dec_to_input": true,
             "activation_fn_str": "topk", "activation_fn_kwargs": {"k": 3}, "normalize_activations": "none"}
            """);
        var back = SaeLensFormat.Read(dir.Path);
        Assert.Equal(SaeArchitecture.TopK, back.Architecture);
        Assert.Equal(3, back.K);
        Assert.Equal("blocks.1.hook_resid_post", back.Metadata.HookName);
        Assert.True(back.Metadata.PrependBos);
    }

    /// <summary>sparsify and dictionary_learning store the encoder (and dictionary_learning the decoder) as nn.Linear weights.</summary>
    [Fact]
    public void ReadsTransposedLayoutsWithTheSameActivations()
    {
        var sae = RandomSae(SaeArchitecture.TopK);
        var x = Enumerable.Range(0, 4 * 6).Select(i => MathF.Sin(i)).ToArray();
        var expected = Encode(sae, x, 4);

        using var sparsify = new TempDir();
        SafetensorsWriter.Write(sparsify.File("sae.safetensors"), [
            new("encoder.weight", Tensor.FromArray(sae.EncoderRows, 10, 6)), new("encoder.bias", Tensor.FromArray(sae.BEnc, 10)),
            new("W_dec", Tensor.FromArray(sae.Decoder, 10, 6)), new("b_dec", Tensor.FromArray(sae.BDec, 6))]);
        File.WriteAllText(sparsify.File("cfg.json"), """{"expansion_factor": 2, "normalize_decoder": true, "num_latents": 10, "k": 3, "d_in": 6}""");
        Assert.Equal(expected, Encode(SaeLensFormat.Read(sparsify.Path), x, 4));

        using var dl = new TempDir();
        SafetensorsWriter.Write(dl.File("ae.safetensors"), [
            new("encoder.weight", Tensor.FromArray(sae.EncoderRows, 10, 6)), new("encoder.bias", Tensor.FromArray(sae.BEnc, 10)),
            new("decoder.weight", Tensor.FromArray(SaeLensFormat.Transpose(sae.Decoder, 10, 6), 6, 10)), new("b_dec", Tensor.FromArray(sae.BDec, 6))]);
        File.WriteAllText(dl.File("config.json"), """{"trainer": {"dict_class": "AutoEncoderTopK", "activation_dim": 6, "dict_size": 10, "k": 3, "submodule_name": "resid_post_layer_1"}}""");
        var fromDl = SaeLensFormat.Read(dl.Path);
        Assert.Equal(expected, Encode(fromDl, x, 4));
        Assert.Equal(sae.Decoder, fromDl.Decoder);
    }

    [Theory]
    [InlineData("d_sae", "12", "field 'W_enc': shape [6, 10], expected [6, 12]")]
    [InlineData("d_in", "null", "field 'd_in': missing")]
    [InlineData("d_in", "\"six\"", "field 'd_in': expected an integer")]
    [InlineData("architecture", "\"gated\"", "field 'architecture': unknown SAE architecture 'gated'")]
    [InlineData("k", "0", "field 'k': 0 is outside")]
    [InlineData("normalize_activations", "\"expected_average_only_in\"", "field 'normalize_activations'")]
    public void BadConfigNamesFileAndField(string field, string value, string expected)
    {
        using var dir = new TempDir();
        SaeLensFormat.Write(dir.Path, RandomSae(SaeArchitecture.TopK));
        var cfg = JsonNode.Parse(File.ReadAllText(dir.File("cfg.json")))!.AsObject();
        cfg[field] = JsonNode.Parse(value);
        File.WriteAllText(dir.File("cfg.json"), cfg.ToJsonString());
        var e = Assert.Throws<ModelFormatException>(() => SaeLensFormat.Read(dir.Path));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith(field == "d_sae" ? "sae_weights.safetensors: " : "cfg.json: ", e.Message);
    }

    [Fact]
    public void NaNInWeightsNamesTheField()
    {
        using var dir = new TempDir();
        var sae = RandomSae(SaeArchitecture.Standard);
        sae.Decoder[7] = float.NaN;
        SaeLensFormat.Write(dir.Path, sae);
        var e = Assert.Throws<ModelFormatException>(() => SaeLensFormat.Read(dir.Path));
        Assert.Equal("sae_weights.safetensors: field 'W_dec': non-finite value at flat index 7", e.Message);
    }

    /// <summary>Damaged cfg.json and weights either load (finite, consistent) or fail with a ModelFormatException — nothing else.</summary>
    [Fact]
    public void DamagedSaeFoldersLoadOrFailCleanly()
    {
        using var dir = new TempDir();
        SaeLensFormat.Write(dir.Path, RandomSae(SaeArchitecture.JumpRelu));
        var cfg = File.ReadAllBytes(dir.File("cfg.json"));
        var weights = File.ReadAllBytes(dir.File("sae_weights.safetensors"));
        int header = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(weights);
        var rng = new Random(11);
        int loaded = 0;
        for (int attempt = 0; attempt < 400; attempt++)
        {
            bool damageConfig = attempt % 2 == 0;
            var bytes = (damageConfig ? cfg : weights).ToArray();
            int span = damageConfig ? bytes.Length : header;
            for (int f = 0, flips = 1 + rng.Next(3); f < flips; f++) bytes[rng.Next(span)] = (byte)rng.Next(256);
            if (attempt % 7 == 0) bytes = bytes[..rng.Next(bytes.Length)];
            File.WriteAllBytes(dir.File(damageConfig ? "cfg.json" : "sae_weights.safetensors"), bytes);
            try
            {
                var sae = SaeLensFormat.Read(dir.Path);
                Assert.Null(sae.FirstNonFinite());
                loaded++;
            }
            catch (ModelFormatException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
            File.WriteAllBytes(dir.File("cfg.json"), cfg);
            File.WriteAllBytes(dir.File("sae_weights.safetensors"), weights);
        }
        Assert.InRange(loaded, 1, 399);
    }
}

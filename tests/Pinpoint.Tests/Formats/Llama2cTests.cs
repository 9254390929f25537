using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Formats;

public class Llama2cTests
{
    private static readonly string[] LayerWeights =
        ["attention.wq", "attention.wk", "attention.wv", "attention.wo", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"];

    /// <summary>
    /// Writes a v1 (fp32) or v2 (Q8_0) checkpoint in export.py's order from a loaded model, quantizing v2 weights
    /// symmetrically per group of <paramref name="groupSize"/> (scale = max|w| / 127).
    /// </summary>
    private static void WriteVersioned(string path, TensorFile model, int version, int groupSize = 32)
    {
        int layers = (int)model.GetInt64("llama2c.n_layers");
        using var w = new BinaryWriter(File.Create(path));
        w.Write(Llama2cReader.Magic);
        w.Write(version);
        foreach (var key in new[] { "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len" })
            w.Write((int)model.GetInt64("llama2c." + key));
        w.Write((byte)1);
        if (version == 2) w.Write(groupSize);
        while (w.BaseStream.Position < 256) w.Write((byte)0);

        void Fp32(string name) { foreach (var v in model[name].ToArray()) w.Write(v); }
        void Q80(string name)
        {
            var values = model[name].ToArray();
            var scales = new float[values.Length / groupSize];
            for (int g = 0; g < scales.Length; g++)
                scales[g] = values.AsSpan(g * groupSize, groupSize).ToArray().Max(Math.Abs) / 127f;
            for (int i = 0; i < values.Length; i++) w.Write((sbyte)Math.Round(values[i] / scales[i / groupSize]));
            foreach (var s in scales) w.Write(s);
        }
        Action<string> big = version == 2 ? Q80 : Fp32;
        for (int l = 0; l < layers; l++) Fp32($"layers.{l}.attention_norm.weight");
        for (int l = 0; l < layers; l++) Fp32($"layers.{l}.ffn_norm.weight");
        Fp32("norm.weight");
        big("tok_embeddings.weight");
        foreach (var weight in LayerWeights)
            for (int l = 0; l < layers; l++) big($"layers.{l}.{weight}.weight");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void VersionedCheckpointsMatchLegacy(int version)
    {
        var legacyPath = SharedData.Require("models/stories260K/stories260K.bin");
        using var dir = new TempDir();
        using var legacy = TensorFile.Open(legacyPath);
        var path = dir.File($"v{version}.bin");
        WriteVersioned(path, legacy, version);
        using var file = TensorFile.Open(path);
        Assert.Equal(version, file.GetInt64("llama2c.version"));
        Assert.Equal(legacy.Names.Order(), file.Names.Order());
        foreach (var name in legacy.Names)
        {
            var expected = legacy[name];
            // Q8_0 with scale max/127 is off by at most half a step: max|w| / 254 per group.
            float tolerance = version == 2 && expected.Rank == 2 ? expected.ToArray().Max(Math.Abs) / 254f * 1.001f : 0;
            AssertSame(expected, file[name], tolerance);
        }
        if (version == 2) Assert.Equal(32, file.GetInt64("llama2c.group_size"));
    }

    [Theory]
    [InlineData(27L)]
    [InlineData(28L)]
    [InlineData(1000L)]
    [InlineData(1056539L)]
    public void TruncatedFileStatesExpectedAndActualSize(long length)
    {
        var source = SharedData.Require("models/stories260K/stories260K.bin");
        using var dir = new TempDir();
        var path = dir.File("cut.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(source)[..(int)length]);
        var e = Assert.Throws<ModelFormatException>(() => TensorFile.Open(path).Dispose());
        Assert.StartsWith("cut.bin:", e.Message, StringComparison.Ordinal);
        if (length >= 28)
            Assert.Contains($"needs exactly 1056540 bytes, but the file has {length}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeVocabMeansSeparateClassifier()
    {
        var source = SharedData.Require("models/stories260K/stories260K.bin");
        using var dir = new TempDir();
        var arr = File.ReadAllBytes(source);
        BitConverter.TryWriteBytes(arr.AsSpan(20), -512); // vocab_size is the sixth header int
        var classifier = Enumerable.Range(0, 512 * 64).SelectMany(i => BitConverter.GetBytes(i * 1e-4f));
        var path = dir.File("unshared.bin");
        File.WriteAllBytes(path, arr.Concat(classifier).ToArray());
        using var file = TensorFile.Open(path);
        Assert.False(file.GetBool("llama2c.shared_classifier"));
        Assert.Equal(512, file.GetInt64("llama2c.vocab_size"));
        Assert.Equal("[512, 64]", file["output.weight"].ShapeString);
        Assert.Equal(1e-4f, file["output.weight"][0, 1]);
        Assert.Equal(DType.F32, file["output.weight"].DType);
    }
}

using System.Text;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Formats;

public class GgufTests
{
    /// <summary>A GGUF v3 file with no metadata and one tensor of any type id, data at offset 0.</summary>
    private static void WriteSingleTensor(string path, string name, ulong[] ne, uint typeId, byte[] data, ulong offset = 0, uint version = 3)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write("GGUF"u8);
        w.Write(version);
        w.Write(1UL);
        w.Write(0UL);
        w.Write((ulong)Encoding.UTF8.GetByteCount(name));
        w.Write(Encoding.UTF8.GetBytes(name));
        w.Write((uint)ne.Length);
        foreach (var d in ne) w.Write(d);
        w.Write(typeId);
        w.Write(offset);
        while (w.BaseStream.Position % 32 != 0) w.Write((byte)0);
        w.Write(data);
    }

    private static ModelFormatException LoadFails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => TensorFile.Open(path).Dispose());
        Assert.StartsWith(Path.GetFileName(path) + ":", e.Message);
        return e;
    }

    [Fact]
    public void WriterRoundTripsEveryMetadataTypeAndTensors()
    {
        using var dir = new TempDir();
        var rng = new Random(3);
        var w = Random(rng, 6, 4);
        var h = Random(rng, 2, 3, 5);
        var bias = Random(rng, 6);
        var metadata = new Dictionary<string, MetadataValue>
        {
            ["u8"] = MetadataValue.From((byte)200),
            ["i8"] = MetadataValue.From((sbyte)-100),
            ["u16"] = MetadataValue.From((ushort)60000),
            ["i16"] = MetadataValue.From((short)-30000),
            ["u32"] = 4000000000u,
            ["i32"] = -7,
            ["f32"] = 1.5f,
            ["bool"] = true,
            ["str"] = "héllo",
            ["u64"] = MetadataValue.From(ulong.MaxValue),
            ["i64"] = -5L,
            ["f64"] = 2.25,
            ["tokenizer.ggml.tokens"] = new[] { "<unk>", "<s>", "Ġthe", "" },
            ["tokenizer.ggml.scores"] = new[] { 0f, -1.5f },
            ["tokenizer.ggml.token_type"] = new[] { 2, 3, 1 },
            ["bools"] = MetadataValue.From([true, false]),
            ["nested"] = MetadataValue.FromArrays([MetadataValue.From(new[] { 1, 2 }), MetadataValue.From(new[] { "a" })]),
            ["general.alignment"] = 64u,
        };
        var path = dir.File("m.gguf");
        GgufWriter.Write(path, metadata, [new("w", w), new("h", h, GgmlType.F16), new("bias", bias)]);

        using var file = TensorFile.Open(path);
        Assert.Equal(TensorFileFormat.Gguf, file.Format);
        foreach (var (key, value) in metadata)
        {
            Assert.Equal(value.Type, file.Metadata[key].Type);
            Assert.Equal(value.ToString(), file.Metadata[key].ToString());
        }
        Assert.Equal(200, file.GetInt64("u8"));
        Assert.Equal(-30000, file.GetInt64("i16"));
        Assert.Equal(4000000000, file.GetInt64("u32"));
        Assert.Equal(1.5, file.GetDouble("f32"));
        Assert.Equal("héllo", file.GetString("str"));
        Assert.Equal(["<unk>", "<s>", "Ġthe", ""], file.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal([0f, -1.5f], file.GetFloatArray("tokenizer.ggml.scores"));
        Assert.Equal([2, 3, 1], file.GetInt32Array("tokenizer.ggml.token_type"));
        var nested = (MetadataValue[])file.Metadata["nested"].Value;
        Assert.Equal([1, 2], nested[0].ToInt32Array());
        Assert.Equal(["a"], nested[1].ToStringArray());
        Assert.Contains("u64", Assert.Throws<ModelFormatException>(() => file.GetInt64("u64")).Message, StringComparison.Ordinal);
        Assert.Contains("not a string", Assert.Throws<ModelFormatException>(() => file.GetString("i32")).Message, StringComparison.Ordinal);
        Assert.Contains("missing", Assert.Throws<ModelFormatException>(() => file.GetString("nope")).Message, StringComparison.Ordinal);

        Assert.Equal(["w", "h", "bias"], file.Names);
        AssertSame(w, file["w"]);
        AssertSame(bias, file["bias"]);
        Assert.Equal(DType.F16, file["h"].DType);
        Assert.Equal("[2, 3, 5]", file["h"].ShapeString);
        AssertSame(h, file["h"], 1e-3f);
        Assert.False(file["w"].Storage.IsManaged);
    }

    [Fact]
    public void QuantizedTensorsStayInTheirBlocks()
    {
        using var dir = new TempDir();
        var path = dir.File("q.gguf");
        // Two rows of 32 values, one Q8_0 block each: d = 1 and d = 2 (f16 0x3C00, 0x4000).
        var data = new List<byte> { 0x00, 0x3C };
        data.AddRange(Enumerable.Range(0, 32).Select(i => (byte)i));
        data.AddRange(new byte[] { 0x00, 0x40 });
        data.AddRange(Enumerable.Range(0, 32).Select(i => (byte)(sbyte)-i));
        WriteSingleTensor(path, "q", [32, 2], (uint)GgmlType.Q8_0, data.ToArray());
        using var file = TensorFile.Open(path);
        var q = file["q"];
        Assert.Equal("[2, 32]", q.ShapeString);
        Assert.Equal(DType.Q8_0, q.DType);
        Assert.False(q.Storage.IsManaged);
        Assert.Equal(31f, q[0, 31]);
        Assert.Equal(-62f, q[1, 31]);
        Assert.Equal(-2f, q.ToArray()[33]);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 32, 18)]
    [InlineData(GgmlType.Q4_K, 256, 144)]
    [InlineData(GgmlType.Q5_K, 256, 176)]
    [InlineData(GgmlType.Q6_K, 256, 210)]
    public void BlockSizesDetermineTensorBytes(GgmlType type, int blockValues, int blockBytes)
    {
        using var dir = new TempDir();
        var path = dir.File("b.gguf");
        WriteSingleTensor(path, "x", [(ulong)blockValues, 3], (uint)type, new byte[3 * blockBytes]);
        using (var file = TensorFile.Open(path))
            Assert.Equal($"[3, {blockValues}]", file["x"].ShapeString);
        WriteSingleTensor(path, "x", [(ulong)blockValues, 3], (uint)type, new byte[3 * blockBytes - 1]);
        Assert.Contains("exceeds the data section", LoadFails(path).Message, StringComparison.Ordinal);
    }

    /// <summary>Re-writing llama.cpp's files reproduces them byte for byte: same layout, padding and encoding.</summary>
    [Theory]
    [InlineData("models/stories260K/stories260K.gguf")]
    [InlineData("models/gpt2-random/model.gguf")]
    public void RewritingARealFileIsByteIdentical(string shared)
    {
        var source = SharedData.Require(shared);
        using var dir = new TempDir();
        using var original = TensorFile.Open(source);
        var path = dir.File("copy.gguf");
        GgufWriter.Write(path, original.Metadata, original.Names.Select(n => new GgufTensorData(n, original[n])));
        using var copy = TensorFile.Open(path);
        Assert.Equal(original.Metadata.Keys, copy.Metadata.Keys);
        Assert.Equal(original.GetStringArray("tokenizer.ggml.tokens"), copy.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal(original.Names, copy.Names);
        foreach (var n in original.Names) AssertSame(original[n], copy[n]);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData(11u, "has ggml type Q3_K (11); supported are F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K")]
    [InlineData(99u, "unknown type id 99")]
    public void UnsupportedTypesNameTheTensor(uint typeId, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("t.gguf");
        WriteSingleTensor(path, "blk.0.attn_q.weight", [256], typeId, new byte[1024]);
        var message = LoadFails(path).Message;
        Assert.Contains("tensor 'blk.0.attn_q.weight'", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void StructuralErrorsAreNamed()
    {
        using var dir = new TempDir();
        var path = dir.File("e.gguf");
        WriteSingleTensor(path, "x", [4], 0, new byte[16], version: 1);
        Assert.Contains("version 1", LoadFails(path).Message, StringComparison.Ordinal);
        WriteSingleTensor(path, "x", [8], 0, new byte[16]);
        Assert.Contains("exceeds the data section of 16 bytes", LoadFails(path).Message, StringComparison.Ordinal);
        WriteSingleTensor(path, "x", [2], 0, new byte[64], offset: 4);
        Assert.Contains("not a multiple of the alignment 32", LoadFails(path).Message, StringComparison.Ordinal);
        WriteSingleTensor(path, "x", [1, 1, 1, 1, 1], 0, new byte[16]);
        Assert.Contains("at most 4", LoadFails(path).Message, StringComparison.Ordinal);
        WriteSingleTensor(path, "x", [33], (uint)GgmlType.Q8_0, new byte[68]);
        Assert.Contains("not a whole number of Q8_0 blocks", LoadFails(path).Message, StringComparison.Ordinal);
        WriteSingleTensor(path, "x", [1UL << 40], 0, new byte[16]);
        Assert.Contains("dimension 0 is", LoadFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverlappingTensorsAreRejected()
    {
        using var dir = new TempDir();
        var path = dir.File("o.gguf");
        GgufWriter.Write(path, [], [new("a", Tensor.Zeros(8)), new("b", Tensor.Zeros(8))]);
        var bytes = File.ReadAllBytes(path);
        // Point b's offset (the last 8 bytes of its tensor info) at a's data.
        int infoEnd = 24 + (8 + 1 + 4 + 8 + 4 + 8) * 2;
        BitConverter.TryWriteBytes(bytes.AsSpan(infoEnd - 8), 0UL);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("overlaps tensor 'a'", LoadFails(path).Message, StringComparison.Ordinal);
    }
}

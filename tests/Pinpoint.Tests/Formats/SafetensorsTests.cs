using System.Buffers.Binary;
using System.Text;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Formats;

public class SafetensorsTests
{
    /// <summary>Builds a safetensors file from a raw JSON header and data bytes (no validation).</summary>
    private static void WriteRaw(string path, string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        File.WriteAllBytes(path, bytes);
    }

    private static ModelFormatException LoadFails(string path)
    {
        var e = Assert.Throws<ModelFormatException>(() => TensorFile.Open(path).Dispose());
        Assert.StartsWith(Path.GetFileName(path) + ":", e.Message);
        return e;
    }

    [Fact]
    public void WriterRoundTripsF32AndMetadata()
    {
        using var dir = new TempDir();
        var rng = new Random(1);
        var a = Random(rng, 3, 5);
        var b = Random(rng, 7);
        var path = dir.File("w.safetensors");
        SafetensorsWriter.Write(path, [new("a", a), new("b.weight", b.Transpose(0, 0))], new Dictionary<string, string> { ["step"] = "12" });
        using var file = TensorFile.Open(path);
        Assert.Equal(["a", "b.weight"], file.Names);
        Assert.Equal("12", file.GetString("step"));
        AssertSame(a, file["a"]);
        AssertSame(b, file["b.weight"]);
        Assert.False(file["a"].Storage.IsManaged); // mapped, not copied
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
    }

    [Fact]
    public void WritesToMappedTensorsStayPrivate()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        SafetensorsWriter.Write(path, [new("a", Tensor.FromArray([1f, 2f], 2))]);
        var before = File.ReadAllBytes(path);
        using (var file = TensorFile.Open(path))
        {
            file["a"][0] = 5f;
            Assert.Equal(5f, file["a"][0]);
        }
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void EmptyTensorsAreAllowed()
    {
        using var dir = new TempDir();
        var path = dir.File("e.safetensors");
        WriteRaw(path, """{"e":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", new byte[4]);
        using var file = TensorFile.Open(path);
        Assert.Empty(file["e"].ToArray());
        Assert.Equal("[3, 0]", file["e"].ShapeString);
    }

    [Fact]
    public void WriterStoresBf16WithRounding()
    {
        using var dir = new TempDir();
        var values = Tensor.FromArray([1f, -2.5f, 1.00390625f, 3.14159f, 1e-3f, float.NaN], 2, 3);
        var path = dir.File("bf.safetensors");
        SafetensorsWriter.Write(path, [new("x", values)], storeAs: DType.BF16);
        using var file = TensorFile.Open(path);
        var x = file["x"];
        Assert.Equal(DType.BF16, x.DType);
        var got = x.ToArray();
        Assert.Equal(1f, got[0]);
        Assert.Equal(-2.5f, got[1]);
        Assert.Equal(1f, got[2]); // exactly halfway: ties to even
        Assert.Equal(3.140625f, got[3]);
        Assert.True(Math.Abs(got[4] - 1e-3f) < 1e-5f);
        Assert.True(float.IsNaN(got[5]));
    }

    [Fact]
    public void ShardedIndexJoinsShards()
    {
        using var dir = new TempDir();
        var rng = new Random(2);
        var a = Random(rng, 4, 4);
        var b = Random(rng, 2, 8);
        SafetensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), [new("a", a)]);
        SafetensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), [new("b", b)], storeAs: DType.F16);
        var index = dir.File("model.safetensors.index.json");
        File.WriteAllText(index, """
            {"metadata": {"total_size": 96},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
            """);
        using (var file = TensorFile.Open(index))
        {
            Assert.Equal(96, file.GetInt64("total_size"));
            AssertSame(a, file["a"]);
            AssertSame(b, file["b"], 1e-3f);
            Assert.Equal(DType.F16, file["b"].DType);
        }

        File.WriteAllText(index, """{"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}}""");
        Assert.Contains("tensor 'b' is in shard 'model-00002-of-00002.safetensors' but weight_map puts it in", LoadFails(index).Message, StringComparison.Ordinal);
        File.WriteAllText(index, """{"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}""");
        Assert.Contains("tensor 'c' is not in its shard", LoadFails(index).Message, StringComparison.Ordinal);
        File.WriteAllText(index, """{"weight_map": {"a": "../model-00001-of-00002.safetensors"}}""");
        Assert.Contains("not a plain file name", LoadFails(index).Message, StringComparison.Ordinal);
        File.WriteAllText(index, """{"weight_map": {"a": "missing.safetensors"}}""");
        // Errors inside a shard name the shard.
        Assert.StartsWith("missing.safetensors: cannot open", Assert.Throws<ModelFormatException>(() => TensorFile.Open(index)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MisalignedDataIsCopiedNotMisread()
    {
        using var dir = new TempDir();
        var path = dir.File("odd.safetensors");
        var data = new byte[12];
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), i + 0.5f);
        // A 9-byte-longer header puts the data at an odd file offset.
        WriteRaw(path, """{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}  """ + " ", data);
        using var file = TensorFile.Open(path);
        Assert.Equal([0.5f, 1.5f, 2.5f], file["x"].ToArray());
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", 8, "tensor 'x' has dtype I64")]
    [InlineData("""{"x":{"dtype":"Q9","shape":[1],"data_offsets":[0,8]}}""", 8, "unknown dtype 'Q9'")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4, "data_offsets [0, 8] exceed the data region of 4 bytes")]
    [InlineData("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "span 8 bytes but F32 shape [3] needs 12")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "gap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "cover 4 bytes but the data region holds 8")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "invalid dimension -1")]
    [InlineData("""{"x":{"dtype":"F32","shape":[65536,65536],"data_offsets":[0,4]}}""", 4, "more than 2^31-1 elements")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", 4, "is not an integer")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", 4, "expected 2")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 4, "invalid JSON")]
    [InlineData("""[1,2]""", 0, "not a JSON object")]
    [InlineData("""{"__metadata__":{"a":1}}""", 0, "not a string")]
    public void InvalidHeadersAreNamed(string header, int dataBytes, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("model.safetensors");
        WriteRaw(path, header, new byte[dataBytes]);
        Assert.Contains(expected, LoadFails(path).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ulong.MaxValue, "exceeds the 100000000-byte limit")]
    [InlineData(1000UL, "exceeds the")]
    [InlineData(0UL, "invalid JSON")]
    public void HeaderLengthIsChecked(ulong length, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("h.safetensors");
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
        File.WriteAllBytes(path, bytes);
        Assert.Contains(expected, LoadFails(path).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingAndEmptyFilesAreFormatErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("cannot open", LoadFails(dir.File("none.safetensors")).Message, StringComparison.Ordinal);
        File.WriteAllBytes(dir.File("empty.safetensors"), []);
        Assert.Contains("empty", Assert.Throws<ModelFormatException>(() => SafetensorsReader.Open(dir.File("empty.safetensors"))).Message, StringComparison.Ordinal);
    }
}

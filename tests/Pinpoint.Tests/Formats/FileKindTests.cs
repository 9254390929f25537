using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Formats;

/// <summary>Files are recognised by content, whatever their names; NaN and infinity in weights are found in every dtype.</summary>
public sealed class FileKindTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("pinpoint-kind-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData("models/stories260K/stories260K.gguf", FileKind.Gguf)]
    [InlineData("models/stories260K/stories260K.bin", FileKind.Llama2cCheckpoint)]
    [InlineData("models/stories260K/hf/model.safetensors", FileKind.Safetensors)]
    [InlineData("models/stories260K/tok512.bin", FileKind.Llama2cTokenizer)]
    [InlineData("models/stories260K/tok512.model", FileKind.SentencePieceModel)]
    [InlineData("models/gpt2-random/tokenizer.json", FileKind.HfTokenizerJson)]
    [InlineData("models/gpt2-random/config.json", FileKind.OtherJson)]
    [InlineData("models/stories260K/tok512.vocab", FileKind.Unknown)]
    public void KindsAreFoundUnderAnyName(string shared, FileKind kind)
    {
        var renamed = Path.Combine(_temp, "renamed.txt");
        File.Copy(SharedData.Require(shared), renamed);
        Assert.Equal(kind, FileKinds.Detect(renamed));
    }

    [Fact]
    public void ModelsOpenUnderAnyNameAndTextIsNotAModel()
    {
        var renamed = Path.Combine(_temp, "weights.dat");
        File.Copy(SharedData.Require("models/stories260K/stories260K.gguf"), renamed);
        using (var file = TensorFile.Open(renamed)) Assert.Equal(TensorFileFormat.Gguf, file.Format);

        var text = Path.Combine(_temp, "model.txt");
        File.WriteAllText(text, "Once upon a time there was a text file.");
        Assert.Contains("not a model file", Assert.Throws<ModelFormatException>(() => TensorFile.Open(text)).Message);
        var bin = Path.Combine(_temp, "model.bin");
        File.Copy(text, bin);
        Assert.Contains("model.bin", Assert.Throws<ModelFormatException>(() => TensorFile.Open(bin)).Message);

        var bytes = File.ReadAllBytes(SharedData.Require("models/stories260K/stories260K.gguf"));
        bytes[0] = (byte)'g';
        var damaged = Path.Combine(_temp, "damaged.gguf");
        File.WriteAllBytes(damaged, bytes);
        Assert.Contains("not a GGUF file", Assert.Throws<ModelFormatException>(() => TensorFile.Open(damaged)).Message);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void NonFiniteValuesAreFoundAtEveryPosition(DType dtype)
    {
        foreach (int length in new[] { 1, 7, 31, 64, 100, 1000 })
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        foreach (int at in new[] { 0, length / 2, length - 1 })
        {
            var values = Enumerable.Range(0, length).Select(i => (float)Math.Sin(i) * 60000f).ToArray();
            values[at] = bad;
            if (at + 1 < length) values[length - 1] = bad;
            int expected = at + 1 < length ? 2 : 1;
            var (first, count) = dtype == DType.F32
                ? NonFiniteWeights.Scan(values.Select(BitConverter.SingleToUInt32Bits).ToArray().AsSpan(), 0x7F80_0000u)
                : NonFiniteWeights.Scan(values.Select(v => Half(v, dtype)).ToArray().AsSpan(), dtype == DType.BF16 ? (ushort)0x7F80 : (ushort)0x7C00);
            Assert.Equal((at, expected), (first, count));
        }
        Assert.Equal((-1, 0), NonFiniteWeights.Scan(new uint[100].AsSpan(), 0x7F80_0000u));
    }

    /// <summary>Half bits of a value (the test values stay inside f16's range except the planted ones).</summary>
    private static ushort Half(float v, DType dtype) => dtype == DType.BF16
        ? (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)
        : BitConverter.HalfToUInt16Bits((Half)v);

    [Fact]
    public void AtomicWriteErrorsNameTheTargetNotTheTemporaryFile()
    {
        var e = Assert.Throws<IOException>(() => AtomicFile.Write("/proc/pinpoint-x.html", s => s.WriteByte(1)));
        Assert.Contains("/proc/pinpoint-x.html", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);
        Assert.Throws<IOException>(() => AtomicFile.CheckWritable("/proc/pinpoint-x.html"));
        AtomicFile.CheckWritable(Path.Combine(_temp, "ok.html"));
        Assert.Empty(Directory.GetFileSystemEntries(_temp));
    }
}

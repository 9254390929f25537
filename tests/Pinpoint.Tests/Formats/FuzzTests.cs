using System.Buffers.Binary;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Formats;

/// <summary>
/// Damaged copies of the shared model files must either load completely (every tensor readable) or fail with a
/// <see cref="ModelFormatException"/> naming the file — never another exception, a crash or a hang.
/// Seeded and fixed: the same few hundred attempts per file on every machine, however loaded. The wall-clock limit
/// only detects a hang; it never decides how much work runs.
/// </summary>
public class FuzzTests
{
    private const int Flips = 150;
    private const int ExtremeWrites = 150;
    private static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(3);

    /// <summary>Header sizes: where a format's structure lives and damage is most interesting.</summary>
    private static int HeaderLength(string name, byte[] bytes) => Path.GetExtension(name) switch
    {
        ".safetensors" => 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        ".gguf" => Math.Min(bytes.Length, 16384),
        _ => 28,
    };

    [Theory]
    [InlineData("models/stories260K/stories260K.bin", 1)]
    [InlineData("models/stories260K/stories260K.gguf", 2)]
    [InlineData("models/stories260K/hf/model.safetensors", 3)]
    [InlineData("models/gpt2-random/model.safetensors", 4)]
    [InlineData("models/gpt2-random/model.gguf", 5)]
    public Task DamagedFilesLoadOrFailCleanly(string shared, int seed)
    {
        var source = SharedData.Require(shared);
        return FuzzWithin(() => Fuzz(shared, File.ReadAllBytes(source), Path.GetFileName(source), seed), $"{shared} seed {seed}");
    }

    /// <summary>A GGUF holding one tensor of every quantized kind (and an F32 one), written by our quantizer.</summary>
    [Fact]
    public Task DamagedQuantizedBlocksLoadOrFailCleanly()
    {
        using var dir = new TempDir();
        var path = dir.File("quantized.gguf");
        var rng = new Random(9);
        var tensors = new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.F32 }
            .Select(t => new GgufTensorData($"w.{t}", Tensor.FromArray(Enumerable.Range(0, 512).Select(_ => rng.NextSingle() - 0.5f).ToArray(), 2, 256), t));
        GgufWriter.Write(path, [new("general.architecture", "llama")], tensors);
        var bytes = File.ReadAllBytes(path);
        return FuzzWithin(() => Fuzz("quantized.gguf", bytes, "quantized.gguf", 6), "quantized blocks");
    }

    private static async Task FuzzWithin(Action fuzz, string what)
    {
        var run = Task.Run(fuzz, TestContext.Current.CancellationToken);
        try
        {
            await run.WaitAsync(HangLimit, TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{what}: the fuzz attempts did not finish within {HangLimit} (a load hangs)");
        }
    }

    private static void Fuzz(string shared, byte[] original, string fileName, int seed)
    {
        using var dir = new TempDir();
        var path = dir.File(fileName);
        var rng = new Random(seed);
        int header = HeaderLength(path, original);
        int attempts = 0, loaded = 0;

        void Attempt(string mutation, byte[] bytes)
        {
            attempts++;
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = TensorFile.Open(path);
                Touch(file);
                loaded++;
            }
            catch (ModelFormatException e)
            {
                Assert.True(e.Message.StartsWith(Path.GetFileName(path) + ": ", StringComparison.Ordinal),
                    $"{mutation}: message does not name the file: {e.Message}");
            }
            catch (Exception e)
            {
                Assert.Fail($"{shared} seed {seed}, {mutation}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }

        // Truncations: every byte of a short header, then spread over the header and the rest of the file.
        var cuts = Enumerable.Range(0, Math.Min(header, 40))
            .Concat(Enumerable.Range(0, 40).Select(_ => rng.Next(header)))
            .Concat(Enumerable.Range(0, 20).Select(_ => rng.Next(original.Length)))
            .Append(original.Length - 1);
        foreach (var cut in cuts) Attempt($"truncate to {cut}", original[..cut]);

        // Random byte flips in the header.
        for (int i = 0; i < Flips; i++)
        {
            var bytes = (byte[])original.Clone();
            int flips = 1 + rng.Next(4);
            var at = new List<int>();
            for (int f = 0; f < flips; f++)
            {
                int p = rng.Next(header);
                at.Add(p);
                bytes[p] ^= (byte)(1 << rng.Next(8));
            }
            Attempt($"flip bits at {string.Join(",", at)}", bytes);
        }

        // Length and count fields set to extreme values: overwrite 4 or 8 bytes at random header positions.
        ulong[] extremes = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1UL << 40, long.MaxValue, 1UL << 63, ulong.MaxValue];
        for (int i = 0; i < ExtremeWrites; i++)
        {
            var bytes = (byte[])original.Clone();
            int width = rng.Next(2) == 0 ? 4 : 8;
            int p = rng.Next(Math.Max(1, header - width));
            ulong value = extremes[rng.Next(extremes.Length)];
            if (width == 4) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(p), (uint)value);
            else BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(p), value);
            Attempt($"write {value} ({width} bytes) at {p}", bytes);
        }

        // The safetensors header length itself, and llama2.c header ints, at every extreme.
        foreach (var value in extremes.Append((ulong)original.Length).Append((ulong)(header - 1)))
        {
            var bytes = (byte[])original.Clone();
            if (path.EndsWith(".safetensors", StringComparison.Ordinal)) BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            else if (path.EndsWith(".bin", StringComparison.Ordinal)) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * rng.Next(7)), (uint)value);
            else BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 + 8 * rng.Next(2)), value); // GGUF counts
            Attempt($"header field = {value}", bytes);
        }

        Assert.True(loaded < attempts, "no damage was detected at all");
    }
}

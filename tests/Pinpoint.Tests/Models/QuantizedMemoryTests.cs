using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Oracle;
using static Pinpoint.Tests.Formats.FormatTestUtil;

namespace Pinpoint.Tests.Models;

/// <summary>
/// A quantized model keeps its matrices in the file's blocks: every matrix stays a view of the mapped file, and
/// loading it, a prefill and KV-cached decode steps allocate no more than the same weights in an f32 file do (which
/// map their matrices as they are) plus far less than an f32 copy of even the smallest matrix — so no embedding,
/// unembedding or layer weight is widened to f32 anywhere on the way.
/// </summary>
public class QuantizedMemoryTests
{
    /// <summary>Wide for its vocabulary, so each matrix is large next to the tokenizer, the metadata and the activations.</summary>
    private static readonly RandomModelSpec Spec = new("llama", DModel: 512, NLayers: 1, NHeads: 8, NKvHeads: 2, DMlp: 1024, VocabSize: 512, ContextLength: 64);

    private static readonly int[] Ids = [1, 40, 300, 7, 211, 90, 15, 480];

    [Theory]
    [InlineData(QuantizationScheme.Q8_0)]
    [InlineData(QuantizationScheme.Q4_K_M)]
    public void LoadPrefillAndDecodeAllocateNoF32CopyOfAQuantizedMatrix(QuantizationScheme scheme)
    {
        using var dir = new TempDir();
        var (f32, _) = RandomModels.Write(Spec, dir.Path, RandomModels.TokenizerMetadataOf(SharedData.Require(RandomModels.SharedTokenizer(Spec).Gguf)), seed: 3);
        var path = dir.File($"{scheme}.gguf");
        using (var file = TensorFile.Open(f32)) GgufQuantizer.Write(file, path, scheme);

        long f32Allocated = Allocated(f32, out _);
        long allocated = Allocated(path, out var matrices);
        Assert.Contains(matrices, p => p.Name == "unembed.W");
        foreach (var (name, _, type, managed) in matrices)
        {
            Assert.True(type.IsQuantized(), $"{name} is {type}");
            Assert.False(managed, $"{name} is a copy, not a view of the mapped file");
        }
        long smallestF32Copy = matrices.Min(p => (long)p.Size) * sizeof(float);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{scheme}: file {new FileInfo(path).Length / 1024} KiB; load + prefill + decode allocated {allocated / 1024} KiB (the f32 file: {f32Allocated / 1024} KiB); the smallest matrix in f32 {smallestF32Copy / 1024} KiB");
        Assert.True(allocated - f32Allocated < smallestF32Copy / 2,
            $"allocated {allocated} bytes against the f32 file's {f32Allocated}; an f32 copy of the smallest matrix is {smallestF32Copy}");
    }

    /// <summary>
    /// Bytes this thread allocates loading <paramref name="path"/> and running an 8-token prefill of every position
    /// (the f32 GEMM over dequantized panels) and 4 decode steps (the integer GEMV), after a warm-up load and run so
    /// one-time costs (JIT, kernel tables, thread-local GEMM buffers) are not counted.
    /// </summary>
    private static long Allocated(string path, out List<(string Name, int Size, DType Type, bool Managed)> matrices)
    {
        using (var warm = ModelLoader.Load(path)) Run(warm.Model);
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var loaded = ModelLoader.Load(path);
        Run(loaded.Model);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        matrices = loaded.Model.Weights.Parameters().Where(p => p.Tensor.Rank == 2).Select(p => (p.Name, p.Tensor.Size, p.Tensor.DType, p.Tensor.Storage.IsManaged)).ToList();
        return allocated;
    }

    private static void Run(HookedTransformer model)
    {
        model.Forward(Compute.Eager, TokenBatch.Single(Ids));
        var cache = new KvCache(model.Config, 1, 4);
        foreach (var id in Ids[..4]) model.Forward(Compute.Eager, TokenBatch.Single([id]), kvCache: cache);
    }
}

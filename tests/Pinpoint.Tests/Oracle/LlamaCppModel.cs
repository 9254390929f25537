using LLama;
using LLama.Common;
using LLama.Native;

namespace Pinpoint.Tests.Oracle;

/// <summary>
/// A GGUF file evaluated by llama.cpp (through LLamaSharp) on the CPU with an F32 KV cache and no flash attention:
/// the independent reference our loaders are checked against. Each <see cref="Evaluate"/> starts from an empty
/// context. Also linked into the benchmark project.
/// </summary>
public sealed class LlamaCppModel : IDisposable
{
    private static readonly Lock NativeSetup = new();
    private static bool _quiet;

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();

    public int VocabSize { get; }

    public LlamaCppModel(string ggufPath, int maxTokens, int threads = 2)
    {
        Silence();
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)maxTokens,
            BatchSize = (uint)maxTokens,
            UBatchSize = (uint)maxTokens,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        VocabSize = _weights.Vocab.Count;
    }

    /// <summary>Runs the tokens at positions 0.. as one batch; returns the logits of every position, [tokens × vocab].</summary>
    public float[] Evaluate(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        _batch.Clear();
        for (int i = 0; i < tokens.Count; i++) _batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
        Decode();
        var logits = new float[tokens.Count * VocabSize];
        for (int i = 0; i < tokens.Count; i++) _context.NativeHandle.GetLogitsIth(i).CopyTo(logits.AsSpan(i * VocabSize, VocabSize));
        return logits;
    }

    /// <summary>Runs the tokens as one batch asking for the last position's logits only (prefill as generation does it).</summary>
    public void Prefill(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        _batch.Clear();
        for (int i = 0; i < tokens.Count; i++) _batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, i == tokens.Count - 1);
        Decode();
    }

    /// <summary>Feeds the tokens one batch of one at a time through the KV cache (decoding), each with its logits.</summary>
    public void DecodeOneByOne(IReadOnlyList<int> tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        for (int i = 0; i < tokens.Count; i++)
        {
            _batch.Clear();
            _batch.Add((LLamaToken)tokens[i], i, LLamaSeqId.Zero, true);
            Decode();
        }
    }

    private void Decode()
    {
        var result = _context.NativeHandle.Decode(_batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    /// <summary>Drops llama.cpp's native log output (it would otherwise flood the test and benchmark output).</summary>
    private static void Silence()
    {
        lock (NativeSetup)
        {
            if (_quiet) return;
            NativeLibraryConfig.All.WithLogCallback((_, _) => { });
            _quiet = true;
        }
    }
}

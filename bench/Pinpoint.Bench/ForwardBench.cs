using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Threading;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Oracle;

namespace Pinpoint.Bench;

/// <summary>
/// Prefill of 128 tokens on a random GPT-2-small (12 layers, d_model 768, vocab 50257) written to a temp GGUF:
/// Pinpoint's plain forward against llama.cpp (LLamaSharp, 2 threads, batch 128, F32) on the same file, the
/// slowdown of caching every hook, and the managed heap a loaded ~500 MB F32 safetensors folder costs.
/// </summary>
public static class ForwardBench
{
    private const int Tokens = 128;
    private const int Repetitions = 7;
    private const int LlamaCppThreads = 2;
    private static readonly RandomModelSpec Gpt2Small = new("gpt2", DModel: 768, NLayers: 12, NHeads: 12, NKvHeads: 12, DMlp: 3072, VocabSize: 50257, ContextLength: 1024);

    public static int Run(bool json)
    {
        var hfTokenizer = BenchPaths.SharedFile("models/gpt2-random/tokenizer.json", "the HF load needs a tokenizer.json");
        var dir = Directory.CreateTempSubdirectory("pinpoint-bench-forward-").FullName;
        try
        {
            var (gguf, hfFolder) = RandomModels.Write(Gpt2Small, dir, ByteLevelTokenizer(Gpt2Small.VocabSize), seed: 7);
            var rng = new Random(3);
            var ids = Enumerable.Range(0, Tokens).Select(_ => rng.Next(Gpt2Small.VocabSize)).ToArray();
            var batch = TokenBatch.Single(ids);

            double plain, cacheAll, llamaCpp;
            using (var loaded = ModelLoader.Load(gguf))
            using (var llama = new LlamaCppModel(gguf, Tokens, LlamaCppThreads))
            {
                var model = loaded.Model;
                var best = BenchTiming.BestSeconds(Repetitions,
                    () => model.Forward(Compute.Eager, batch),
                    () => model.RunWithCache(batch),
                    () => llama.Evaluate(ids));
                (plain, cacheAll, llamaCpp) = (best[0], best[1], best[2]);
            }
            double heapRatio = LoadHeapRatio(hfFolder, hfTokenizer);

            var r = new Result(Tokens / plain, Tokens / llamaCpp, cacheAll / plain, heapRatio);
            Console.WriteLine(json ? r.Json() : r.Table());
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed record Result(double Ours, double LlamaCpp, double CacheAllSlowdown, double LoadHeapRatio)
    {
        public string Json() => string.Create(CultureInfo.InvariantCulture,
            $"{{\"tokens\":{Tokens},\"pinpoint_tokens_per_s\":{Ours:F1},\"llamacpp_tokens_per_s\":{LlamaCpp:F1},\"ratio\":{Ours / LlamaCpp:F3},\"cache_all_slowdown\":{CacheAllSlowdown:F3},\"load_heap_ratio\":{LoadHeapRatio:F4}}}");

        public string Table()
        {
            var sb = new StringBuilder();
            sb.AppendLine(CultureInfo.InvariantCulture, $"Prefill of {Tokens} tokens, GPT-2-small shape (random F32 weights), Pinpoint {WorkerPool.Concurrency} threads, llama.cpp {LlamaCppThreads} threads");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  Pinpoint forward      {Ours,10:F1} tokens/s");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  llama.cpp (LLamaSharp){LlamaCpp,10:F1} tokens/s");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  ratio                 {Ours / LlamaCpp,10:F3}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  cache-all slowdown    {CacheAllSlowdown,10:F3}x");
            sb.Append(CultureInfo.InvariantCulture, $"  load heap / file size {LoadHeapRatio,10:F4}");
            return sb.ToString();
        }
    }

    /// <summary>Managed heap growth while a loaded HF folder is held, relative to its safetensors size.</summary>
    private static double LoadHeapRatio(string hfFolder, string tokenizer)
    {
        long fileBytes = new FileInfo(Path.Combine(hfFolder, "model.safetensors")).Length;
        long before = GC.GetTotalMemory(forceFullCollection: true);
        using var loaded = ModelLoader.Load(hfFolder, tokenizer);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(loaded);
        return (double)(after - before) / fileBytes;
    }

    /// <summary>
    /// A byte-level BPE vocabulary of <paramref name="vocab"/> tokens for llama.cpp's "gpt2" tokenizer: the 256 byte
    /// symbols, placeholder tokens, and &lt;|endoftext|&gt; last (no merges: the benchmark feeds token ids).
    /// </summary>
    internal static List<KeyValuePair<string, MetadataValue>> ByteLevelTokenizer(int vocab)
    {
        var tokens = new string[vocab];
        var types = new int[vocab];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            tokens[b] = ((char)(printable ? b : next++)).ToString();
            types[b] = 1;
        }
        for (int i = 256; i < vocab - 1; i++)
        {
            tokens[i] = $"\u0120tok{i}";
            types[i] = 1;
        }
        tokens[vocab - 1] = "<|endoftext|>";
        types[vocab - 1] = 3;
        return
        [
            new("tokenizer.ggml.model", "gpt2"),
            new("tokenizer.ggml.pre", "gpt-2"),
            new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.token_type", types),
            new("tokenizer.ggml.merges", Array.Empty<string>()),
            new("tokenizer.ggml.bos_token_id", MetadataValue.From((uint)(vocab - 1))),
            new("tokenizer.ggml.eos_token_id", MetadataValue.From((uint)(vocab - 1))),
            new("tokenizer.ggml.add_bos_token", false),
        ];
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Oracle;

namespace Pinpoint.Bench;

/// <summary>
/// Quantized 1B-class models: random weights shaped like Llama-3.2-1B written as Q8_0 and Q4_K_M GGUFs by our own
/// quantizer and writer, timed on Pinpoint and on llama.cpp (LLamaSharp) in the same run.
/// </summary>
public static class ScaleBench
{
    public const string Help = """
        usage: bench/run scale [--json] [--quick] [--rounds N] [--no-explain] [--no-timing] [--keep DIR] [--quant Q8_0|Q4_K_M]

        Writes random-weight GGUF files shaped like Llama-3.2-1B (16 layers, d_model 2048, 32 query / 8 key-value
        heads of 64, SwiGLU 8192, vocab 128256, tied embeddings, rope theta 500000) in Q8_0 and Q4_K_M with
        Pinpoint's own quantizer and GGUF writer, then for each file:
          1. peak RSS (VmHWM, reset before) of Pinpoint loading it and running one 512-token prefill and 64
             decode steps, before llama.cpp is loaded into the process;
          2. the time and peak RSS of a full default explain (Explainer.Explain, as `pinpoint explain` runs it)
             of a 39-token prompt (the vocabulary is placeholder byte tokens, so the text is only a carrier);
          3. prefill of 128 and 512 tokens (last position's logits only, on both sides) and decode of 64 tokens
             one at a time through the KV cache, Pinpoint and llama.cpp (2 threads, F32 KV cache) alternating
             round by round, best of N rounds after one warm-up round.
        Tokens/s and ratios (Pinpoint / llama.cpp) are printed; --json prints one object:
          {"models":[{"quant","file_mb","prefill_tokens_per_s","llamacpp_prefill_tokens_per_s","prefill_ratio",
            "prefill_f32_tokens_per_s","prefill_128_tokens_per_s","llamacpp_prefill_128_tokens_per_s","decode_tokens_per_s",
            "llamacpp_decode_tokens_per_s","decode_ratio","peak_rss_mb","explain_s","explain_peak_rss_mb",
            "decode_vs_prefill_max_abs_dlogit","int8_vs_f32_prefill_max_abs_dlogit"}]}
        (prefill_* without a size is the 512-token prefill in the default mode: 8-bit activations on the interleaved
        panels of Q8_0 and the K-quants; prefill_f32_* the same with f32
        activations throughout, PINPOINT_QUANTIZED_PREFILL=f32; explain_* are null with --no-explain; the accuracy
        cost of 8-bit activations: decode_vs_prefill_max_abs_dlogit is the last decode step's logits against an f32
        prefill's of the same 64 tokens, int8_vs_f32_prefill_max_abs_dlogit an 8-bit prefill's (every type,
        PINPOINT_QUANTIZED_PREFILL=int8) against the f32 one).

          --quick       2 layers instead of 16 (same widths and vocabulary): checks the whole run in a few minutes
          --rounds N    timed rounds per measurement (default 3)
          --no-explain  skip the explain measurement
          --no-timing   skip step 3 (its fields are null): the memory and explain figures alone
          --keep DIR    write the GGUF files to DIR and keep them (default: a temporary folder, deleted)
          --quant Q     only this file (Q8_0 or Q4_K_M)

        Needs ~2.2 GB of disk for the two files. The explain step is the longest (the patching grids are estimated by
        attribution patching at this size, 32 cells per direction verified; weight attribution copies only the matrix
        it is verifying): use --no-explain for the speed figures alone.
        Run it on a quiet machine: the two engines alternate so background load hits both, but it still adds noise.
        """;

    private const int LlamaCppThreads = 2;
    private const int Long = 512, Short = 128, DecodeSteps = 64;
    private static readonly ExplainRequest Request = new("Tom had a big red ball. One day he lost it", "x", "y", "Tom had a big red ball. One day he sold it");

    private sealed record Shape(int DModel, int Layers, int Heads, int KvHeads, int DMlp, int Vocab)
    {
        public int DHead => DModel / Heads;
    }

    public static int Run(string[] args)
    {
        bool json = args.Contains("--json"), quick = args.Contains("--quick"), timing = !args.Contains("--no-timing"), explain = !args.Contains("--no-explain");
        int rounds = IntFlag(args, "--rounds", 3);
        string? keep = StringFlag(args, "--keep");
        var shape = new Shape(2048, quick ? 2 : 16, 32, 8, 8192, 128256);
        var dir = keep ?? Directory.CreateTempSubdirectory("pinpoint-bench-scale-").FullName;
        Directory.CreateDirectory(dir);
        try
        {
            var results = new List<Result>();
            var only = StringFlag(args, "--quant");
            var schemes = new[] { QuantizationScheme.Q8_0, QuantizationScheme.Q4_K_M }.Where(s => only is null || s.ToString() == only).ToList();
            if (schemes.Count == 0) throw new BenchSetupException($"--quant {only}: expected Q8_0 or Q4_K_M");
            foreach (var scheme in schemes)
            {
                var path = Path.Combine(dir, $"llama-1b-shape-{scheme}{(quick ? "-quick" : "")}.gguf");
                var clock = Stopwatch.StartNew();
                if (!File.Exists(path)) WriteRandomModel(path, shape, scheme, seed: 11);
                Console.Error.WriteLine($"scale: {Path.GetFileName(path)} ready ({new FileInfo(path).Length / 1e6:F0} MB, {clock.Elapsed.TotalSeconds:F0} s)");
                results.Add(Measure(path, scheme, rounds, explain, timing));
            }
            Console.WriteLine(json ? Json(results) : Table(results, shape, rounds));
            return 0;
        }
        finally
        {
            if (keep is null) Directory.Delete(dir, recursive: true);
        }
    }

    private static Result Measure(string path, QuantizationScheme scheme, int rounds, bool explain, bool timing)
    {
        var rng = new Random(5);
        var ids = Enumerable.Range(0, Long).Select(_ => rng.Next(256, 128000)).ToArray();
        int[] shortIds = ids[..Short], decodeIds = ids[..DecodeSteps];

        ReportResident(scheme, "before the collection that starts the measurement");
        ResetPeakRss();
        double peakRss, activationError, prefillError;
        using (var loaded = ModelLoader.Load(path))
        {
            ReportResident(scheme, "after load");
            Prefill(loaded.Model, ids);
            ReportResident(scheme, "after a 512-token prefill");
            // The last decode step's logits and an 8-bit prefill's against an f32 prefill's of the same tokens.
            var decoded = Decode(loaded.Model, decodeIds);
            ReportResident(scheme, "after 64 decode steps");
            float[] f32, int8;
            using (QuantizedPrefill.Use(QuantizedPrefillMode.F32)) f32 = Prefill(loaded.Model, decodeIds);
            using (QuantizedPrefill.Use(QuantizedPrefillMode.Int8)) int8 = Prefill(loaded.Model, decodeIds);
            activationError = MaxAbsDifference(decoded, f32);
            prefillError = MaxAbsDifference(int8, f32);
            peakRss = PeakRssMb();
        }
        Console.Error.WriteLine($"scale: {scheme} peak RSS {peakRss:F0} MB, 8-bit activations move the last logits by up to {activationError:G3} (decode), {prefillError:G3} (prefill)");
        double fileMb = new FileInfo(path).Length / 1e6;

        double? explainSeconds = null, explainRss = null;
        if (explain)
        {
            ResetPeakRss();
            var clock = Stopwatch.StartNew();
            using (var loaded = ModelLoader.Load(path))
                Explainer.Explain(loaded, Request, progress: (phase, step, steps) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"scale: {scheme} explain {step}/{steps} {phase} done at {clock.Elapsed.TotalSeconds:F0} s, peak RSS so far {PeakRssMb():F0} MB")));
            explainSeconds = clock.Elapsed.TotalSeconds;
            explainRss = PeakRssMb();
            Console.Error.WriteLine($"scale: {scheme} explain {explainSeconds:F1} s, peak RSS {explainRss:F0} MB");
        }

        if (!timing)
            return new Result(scheme.ToString(), fileMb, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, peakRss, explainSeconds, explainRss, activationError, prefillError);
        using var ours = ModelLoader.Load(path);
        using var llama = new LlamaCppModel(path, Long, LlamaCppThreads);
        var model = ours.Model;
        Console.Error.WriteLine($"scale: {scheme} timing {rounds} rounds");
        var best = BenchTiming.BestSeconds(rounds,
            () => Prefill(model, shortIds),
            () => llama.Prefill(shortIds),
            () => Prefill(model, ids),
            () => llama.Prefill(ids),
            () => Decode(model, decodeIds),
            () => llama.DecodeOneByOne(decodeIds),
            () => PrefillF32(model, ids));
        return new Result(scheme.ToString(), fileMb,
            Short / best[0], Short / best[1], Long / best[2], Long / best[3], DecodeSteps / best[4], DecodeSteps / best[5], Long / best[6],
            peakRss, explainSeconds, explainRss, activationError, prefillError);
    }

    private static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    /// <summary>The last position's logits of one prefill.</summary>
    private static float[] Prefill(HookedTransformer model, int[] ids) =>
        model.Forward(Compute.Eager, TokenBatch.Single(ids), lastPositionOnly: true).ToArray();

    /// <summary>A prefill on f32 activations throughout (<see cref="QuantizedPrefillMode.F32"/>), timed beside the default one.</summary>
    private static void PrefillF32(HookedTransformer model, int[] ids)
    {
        using (QuantizedPrefill.Use(QuantizedPrefillMode.F32)) Prefill(model, ids);
    }

    /// <summary>The tokens one at a time through the KV cache; the last step's logits.</summary>
    private static float[] Decode(HookedTransformer model, int[] ids)
    {
        var cache = new KvCache(model.Config, 1, ids.Length);
        Tensor? logits = null;
        foreach (var id in ids) logits = model.Forward(Compute.Eager, TokenBatch.Single([id]), kvCache: cache);
        return logits!.ToArray();
    }

    /// <summary>
    /// Random weights (uniform, std 1/√fan-in; norms 1 ± 0.1) written tensor by tensor straight into quantized
    /// blocks, so the f32 model never exists whole; types per tensor as <see cref="GgufQuantizer"/> chooses them.
    /// </summary>
    private static void WriteRandomModel(string path, Shape s, QuantizationScheme scheme, int seed)
    {
        int q = s.Heads * s.DHead, kv = s.KvHeads * s.DHead;
        var specs = new List<(string Name, int Rows, int Cols)> { ("token_embd.weight", s.Vocab, s.DModel) };
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"blk.{l}.";
            specs.Add((p + "attn_norm.weight", 1, s.DModel));
            specs.Add((p + "attn_q.weight", q, s.DModel));
            specs.Add((p + "attn_k.weight", kv, s.DModel));
            specs.Add((p + "attn_v.weight", kv, s.DModel));
            specs.Add((p + "attn_output.weight", s.DModel, q));
            specs.Add((p + "ffn_norm.weight", 1, s.DModel));
            specs.Add((p + "ffn_gate.weight", s.DMlp, s.DModel));
            specs.Add((p + "ffn_up.weight", s.DMlp, s.DModel));
            specs.Add((p + "ffn_down.weight", s.DModel, s.DMlp));
        }
        specs.Add(("output_norm.weight", 1, s.DModel));
        var tensors = specs.Select((spec, i) => RandomTensor(spec.Name, spec.Rows, spec.Cols, scheme, s.Layers, seed * 1000 + i)).ToList();
        var metadata = new List<KeyValuePair<string, MetadataValue>>
        {
            new("general.architecture", "llama"),
            new("general.name", $"random-llama-1b-shape-{scheme}"),
            new("general.file_type", MetadataValue.From(GgufQuantizer.FileType(scheme))),
            new("general.quantization_version", MetadataValue.From(2u)),
            new("llama.context_length", MetadataValue.From((uint)(Long + DecodeSteps + 64))),
            new("llama.embedding_length", MetadataValue.From((uint)s.DModel)),
            new("llama.feed_forward_length", MetadataValue.From((uint)s.DMlp)),
            new("llama.block_count", MetadataValue.From((uint)s.Layers)),
            new("llama.attention.head_count", MetadataValue.From((uint)s.Heads)),
            new("llama.attention.head_count_kv", MetadataValue.From((uint)s.KvHeads)),
            new("llama.attention.layer_norm_rms_epsilon", MetadataValue.From(1e-5f)),
            new("llama.rope.freq_base", MetadataValue.From(500000f)),
            new("llama.rope.dimension_count", MetadataValue.From((uint)s.DHead)),
        };
        GgufWriter.Write(path, metadata.Concat(ForwardBench.ByteLevelTokenizer(s.Vocab)), tensors);
    }

    private static GgufTensorData RandomTensor(string name, int rows, int cols, QuantizationScheme scheme, int layers, int seed)
    {
        if (rows == 1)
        {
            var rng = new Random(seed);
            var norm = Enumerable.Range(0, cols).Select(_ => 1f + 0.2f * (rng.NextSingle() - 0.5f)).ToArray();
            return new(name, Tensor.FromArray(norm, cols));
        }
        var type = GgufQuantizer.TypeFor(name, Tensor.Zeros(1, cols), scheme, layers, tiedEmbedding: true);
        var dtype = GgufQuantization.ToDType(type);
        long rowBytes = dtype.ByteCount(cols);
        var blocks = new byte[rowBytes * rows];
        // Uniform on ±√3·std has standard deviation std.
        float amplitude = MathF.Sqrt(3f / cols);
        const int RowsPerChunk = 64;
        Parallel.For(0, (rows + RowsPerChunk - 1) / RowsPerChunk, chunk =>
        {
            var rng = new Random(seed * 7919 + chunk);
            int r0 = chunk * RowsPerChunk, n = Math.Min(RowsPerChunk, rows - r0);
            var values = new float[n * cols];
            for (int i = 0; i < values.Length; i++) values[i] = amplitude * (2 * rng.NextSingle() - 1);
            BlockQuantization.Quantize(dtype, values, blocks.AsSpan((int)(r0 * rowBytes), (int)(n * rowBytes)));
        });
        return new(name, new Tensor(Storage.FromBlocks(blocks, dtype, rows * cols), 0, [rows, cols]), type);
    }

    private static void ResetPeakRss()
    {
        // Aggressive: give the memory freed since (the written files' blocks) back to the system, so the peak is the model's.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        // Writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one (Linux ≥ 4.0).
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static double PeakRssMb() => StatusMb("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;

    /// <summary>A size field of /proc/self/status in MB (null off Linux).</summary>
    private static double? StatusMb(string field)
    {
        if (!File.Exists("/proc/self/status")) return null;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return null;
    }

    /// <summary>The resident set now, split into mapped file pages (the weights) and the process's own memory, and the managed heap.</summary>
    private static void ReportResident(QuantizationScheme scheme, string when) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"scale: {scheme} {when}: RSS {StatusMb("VmRSS:"):F0} MB = file {StatusMb("RssFile:"):F0} + anonymous {StatusMb("RssAnon:"):F0} + shared {StatusMb("RssShmem:"):F0}; managed heap {GC.GetTotalMemory(false) / 1e6:F0} MB, GC committed {GC.GetGCMemoryInfo().TotalCommittedBytes / 1e6:F0} MB"));

    private sealed record Result(string Quant, double FileMb, double Prefill128, double LlamaPrefill128, double Prefill512, double LlamaPrefill512,
        double Decode, double LlamaDecode, double Prefill512F32, double PeakRssMb, double? ExplainSeconds, double? ExplainRssMb, double ActivationError,
        double PrefillActivationError);

    private static string Json(List<Result> results)
    {
        static string Num(double? v, string format) => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "null";
        var items = results.Select(r =>
            $"{{\"quant\":\"{r.Quant}\",\"file_mb\":{Num(r.FileMb, "F1")},\"prefill_tokens_per_s\":{Num(r.Prefill512, "F2")},\"llamacpp_prefill_tokens_per_s\":{Num(r.LlamaPrefill512, "F2")},\"prefill_ratio\":{Num(r.Prefill512 / r.LlamaPrefill512, "F3")},"
            + $"\"prefill_f32_tokens_per_s\":{Num(r.Prefill512F32, "F2")},\"prefill_128_tokens_per_s\":{Num(r.Prefill128, "F2")},\"llamacpp_prefill_128_tokens_per_s\":{Num(r.LlamaPrefill128, "F2")},"
            + $"\"decode_tokens_per_s\":{Num(r.Decode, "F2")},\"llamacpp_decode_tokens_per_s\":{Num(r.LlamaDecode, "F2")},\"decode_ratio\":{Num(r.Decode / r.LlamaDecode, "F3")},"
            + $"\"peak_rss_mb\":{Num(r.PeakRssMb, "F0")},\"explain_s\":{Num(r.ExplainSeconds, "F1")},\"explain_peak_rss_mb\":{Num(r.ExplainRssMb, "F0")},"
            + $"\"decode_vs_prefill_max_abs_dlogit\":{Num(r.ActivationError, "G4")},\"int8_vs_f32_prefill_max_abs_dlogit\":{Num(r.PrefillActivationError, "G4")}}}");
        return $"{{\"models\":[{string.Join(",", items)}]}}";
    }

    private static string Table(List<Result> results, Shape s, int rounds)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Llama-3.2-1B shape ({s.Layers} layers), random weights; Pinpoint {WorkerPool.Concurrency} threads, llama.cpp {LlamaCppThreads}; best of {rounds} rounds");
        sb.AppendLine("quant    file MB  prefill128 (llama.cpp)  prefill512 (llama.cpp) ratio  decode64 (llama.cpp) ratio  peak RSS MB  explain s (RSS MB)");
        foreach (var r in results)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Quant,-7} {r.FileMb,8:F0}  {r.Prefill128,8:F1} ({r.LlamaPrefill128,7:F1})  {r.Prefill512,8:F1} ({r.LlamaPrefill512,7:F1}) {r.Prefill512 / r.LlamaPrefill512,5:F2}  {r.Decode,7:F1} ({r.LlamaDecode,7:F1}) {r.Decode / r.LlamaDecode,5:F2}  {r.PeakRssMb,11:F0}  {(r.ExplainSeconds is { } e ? e.ToString("F1", CultureInfo.InvariantCulture) : "-"),9} ({(r.ExplainRssMb is { } m ? m.ToString("F0", CultureInfo.InvariantCulture) : "-")})");
        sb.AppendLine("tokens/s; ratio = Pinpoint / llama.cpp");
        sb.AppendLine("prefill512 on f32 activations (PINPOINT_QUANTIZED_PREFILL=f32): " + string.Join(", ", results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Quant} {r.Prefill512F32:F1}"))));
        sb.Append("8-bit activations vs f32 (prefill), last position's logits after 64 tokens, max |Δ| (decode; int8 prefill): "
            + string.Join(", ", results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Quant} {r.ActivationError:G3}; {r.PrefillActivationError:G3}"))));
        return sb.ToString();
    }

    private static int IntFlag(string[] args, string flag, int fallback)
    {
        var value = StringFlag(args, flag);
        if (value is null) return fallback;
        return int.TryParse(value, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new BenchSetupException($"{flag} needs a positive integer, got '{value}'");
    }

    private static string? StringFlag(string[] args, string flag)
    {
        int i = Array.IndexOf(args, flag);
        if (i < 0) return null;
        return i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[i + 1] : throw new BenchSetupException($"{flag} needs a value");
    }
}

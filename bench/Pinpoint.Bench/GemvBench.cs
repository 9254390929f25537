using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Bench;

/// <summary>
/// Products with quantized weights on Llama-3.2-1B-sized MLP matrices, best of several timed rounds: the decode GEMV
/// (<see cref="QuantizedGemv"/>, one activation row; as weight bytes streamed per second) and a 128-row prefill, both
/// the default f32 GEMM with dequantized panels and the 8-bit <see cref="QuantizedGemm"/> (as GFLOP/s), and the panel
/// decoder alone (as G values/s; <c>DOTNET_EnableAVX512F=0</c> times the AVX2 decoders). <c>--prefill</c> times only
/// the prefill products, at 128 and 512 rows. Run it with <c>DOTNET_PROCESSOR_COUNT=1</c> for one thread.
/// </summary>
public static unsafe class GemvBench
{
    private static readonly DType[] Types = [DType.Q8_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];
    private static readonly (int N, int K)[] Shapes = [(8192, 2048), (2048, 8192)];
    private const int Rounds = 7;
    private static readonly int[] DefaultPrefillRows = [128], LongPrefillRows = [128, 512];
    private const double SecondsPerRound = 0.25;

    public static int Run(bool json, bool prefillOnly = false)
    {
        var rows = new List<(DType Type, string Product, int M, int N, int K, double Microseconds, double Rate)>();
        var rng = new Random(7);
        foreach (var (n, k) in Shapes)
        {
            var values = new float[(long)n * k];
            for (long i = 0; i < values.Length; i++) values[i] = rng.NextSingle() * 2 - 1;
            var x = new float[k];
            for (int i = 0; i < k; i++) x[i] = rng.NextSingle() * 2 - 1;
            var y = new float[n];
            foreach (var type in Types)
            {
                long bytes = type.ByteCount(values.Length);
                var blocks = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                BlockQuantization.Quantize(type, values, new Span<byte>(blocks, checked((int)bytes)));
                long rowBytes = type.ByteCount(k);
                var weights = new ReadOnlySpan<byte>(blocks, checked((int)bytes)).ToArray();
                if (!prefillOnly)
                {
                    double gemv;
                    fixed (float* px = x)
                    fixed (float* py = y)
                    {
                        float* xp = px, yp = py;
                        gemv = Best(() => QuantizedGemv.Run(KernelPaths.Best, type, n, k, xp, blocks, rowBytes, yp, 0f));
                    }
                    rows.Add((type, "gemv", 1, n, k, gemv * 1e6, bytes / gemv / 1e9));
                    // The panel decoder alone: the matrix decoded 64K values at a time into one L2-sized buffer, as packing does.
                    var decoded = new float[1 << 16];
                    double decode = Best(() =>
                    {
                        int chunkBytes = checked((int)type.ByteCount(decoded.Length));
                        for (long at = 0; at < bytes; at += chunkBytes) BlockQuantization.Dequantize(type, weights.AsSpan((int)at, chunkBytes), decoded);
                    });
                    rows.Add((type, "dequantize", 0, n, k, decode * 1e6, (double)n * k / decode / 1e9));
                }
                foreach (int m in prefillOnly ? LongPrefillRows : DefaultPrefillRows)
                {
                    var a = new float[m * k];
                    for (int i = 0; i < a.Length; i++) a[i] = x[i % k] * (1 + i / k % 3);
                    var c = new float[m * n];
                    double flops = 2.0 * m * n * k;
                    double f32 = Best(() => Gemm.Multiply(m, n, k, a, k, false, weights, type, k, true, c, n));
                    rows.Add((type, "prefill_f32", m, n, k, f32 * 1e6, flops / f32 / 1e9));
                    double int8 = Best(() => QuantizedGemm.Multiply(m, n, k, a, k, weights, type, k, c, n));
                    rows.Add((type, "prefill_int8", m, n, k, int8 * 1e6, flops / int8 / 1e9));
                }
                NativeMemory.AlignedFree(blocks);
            }
        }
        var sb = new StringBuilder();
        if (json)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{{\"threads\": {WorkerPool.Concurrency}, \"kernel\": \"{KernelPaths.Best}\", \"products\": [");
            sb.AppendJoin(", ", rows.Select(r => string.Create(CultureInfo.InvariantCulture,
                $"{{\"type\": \"{r.Type}\", \"product\": \"{r.Product}\", \"m\": {r.M}, \"n\": {r.N}, \"k\": {r.K}, \"microseconds\": {r.Microseconds:F1}, \"{r.Product switch { "gemv" => "gb_per_s", "dequantize" => "gvalues_per_s", _ => "gflops" }}\": {r.Rate:F2}}}")));
            sb.Append("]}");
        }
        else
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Quantized products, {WorkerPool.Concurrency} threads, kernel {KernelPaths.Best} (best of {Rounds} rounds)");
            sb.AppendLine("type   product          m      n      k         µs   GB/s (gemv), G values/s (dequantize) or GFLOP/s");
            foreach (var r in rows)
                sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Type,-6} {r.Product,-12} {r.M,5} {r.N,6} {r.K,6} {r.Microseconds,10:F1} {r.Rate,8:F2}");
        }
        Console.WriteLine(sb.ToString().TrimEnd());
        return 0;
    }

    /// <summary>The fastest single call over <see cref="Rounds"/> rounds of about <see cref="SecondsPerRound"/> each, after one warm-up call.</summary>
    private static double Best(Action action)
    {
        action();
        double best = double.MaxValue;
        for (int r = 0; r < Rounds; r++)
        {
            long end = Stopwatch.GetTimestamp() + (long)(SecondsPerRound * Stopwatch.Frequency);
            do
            {
                long start = Stopwatch.GetTimestamp();
                action();
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            while (Stopwatch.GetTimestamp() < end);
        }
        return best;
    }
}

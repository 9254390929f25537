using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Bench;

/// <summary>
/// The decode GEMV on quantized weights (<see cref="QuantizedGemv"/>: one activation row against a Llama-3.2-1B-sized
/// MLP matrix), best of several timed rounds, as weight bytes streamed per second. Run it with
/// <c>DOTNET_PROCESSOR_COUNT=1</c> for one thread.
/// </summary>
public static unsafe class GemvBench
{
    private static readonly DType[] Types = [DType.Q8_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];
    private static readonly (int N, int K)[] Shapes = [(8192, 2048), (2048, 8192)];
    private const int Rounds = 7;
    private const double SecondsPerRound = 0.25;

    public static int Run(bool json)
    {
        var rows = new List<(DType Type, int N, int K, double Microseconds, double GigabytesPerSecond)>();
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
                double best = double.MaxValue;
                fixed (float* px = x)
                fixed (float* py = y)
                {
                    float* xp = px, yp = py;
                    long rowBytes = type.ByteCount(k);
                    void Once() => QuantizedGemv.Run(KernelPaths.Best, type, n, k, xp, blocks, rowBytes, yp, 0f);
                    Once();
                    for (int r = 0; r < Rounds; r++)
                    {
                        long end = Stopwatch.GetTimestamp() + (long)(SecondsPerRound * Stopwatch.Frequency);
                        do
                        {
                            long start = Stopwatch.GetTimestamp();
                            Once();
                            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
                        }
                        while (Stopwatch.GetTimestamp() < end);
                    }
                }
                NativeMemory.AlignedFree(blocks);
                rows.Add((type, n, k, best * 1e6, bytes / best / 1e9));
            }
        }
        var sb = new StringBuilder();
        if (json)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{{\"threads\": {WorkerPool.Concurrency}, \"kernel\": \"{KernelPaths.Best}\", \"gemv\": [");
            sb.AppendJoin(", ", rows.Select(r => string.Create(CultureInfo.InvariantCulture,
                $"{{\"type\": \"{r.Type}\", \"n\": {r.N}, \"k\": {r.K}, \"microseconds\": {r.Microseconds:F1}, \"gb_per_s\": {r.GigabytesPerSecond:F2}}}")));
            sb.Append("]}");
        }
        else
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Quantized GEMV, {WorkerPool.Concurrency} threads, kernel {KernelPaths.Best} (best of {Rounds} rounds)");
            sb.AppendLine("type        n      k       µs     GB/s");
            foreach (var r in rows)
                sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Type,-6} {r.N,6} {r.K,6} {r.Microseconds,8:F1} {r.GigabytesPerSecond,8:F2}");
        }
        Console.WriteLine(sb.ToString().TrimEnd());
        return 0;
    }
}

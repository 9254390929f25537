using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint selfcheck</c>: the kernel path and CPU features in use, a GEMM correctness check and its speed.</summary>
public sealed class SelfCheckCommand : Command
{
    private const int M = 256, N = 768, K = 768, Reps = 10;

    public override string Name => "selfcheck";
    public override string Summary => "check the engine on this machine: kernel path, CPU features, threads, GEMM speed";
    public override IReadOnlyList<CliOption> Options => [];
    public override Type ResultType => typeof(Result);

    public sealed record CpuInfo(bool Avx512, bool Avx2, bool Fma, int LogicalProcessors);

    /// <param name="MaxAbsDiff">Largest difference between the selected kernel path and the scalar path on a small product.</param>
    public sealed record GemmCheck(double MaxAbsDiff, bool Ok);

    public sealed record GemmSpeed(int M, int N, int K, int Reps, double Seconds, double Gflops);

    public sealed record Result(string KernelPath, string[] SupportedPaths, CpuInfo Cpu, int Threads, GemmCheck GemmCheck, GemmSpeed Gemm);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var result = new Result(
            CommandOutput.Name(KernelPaths.Best),
            KernelPaths.Supported.Select(p => CommandOutput.Name(p)).ToArray(),
            new CpuInfo(Avx512F.IsSupported, Avx2.IsSupported, Fma.IsSupported, Environment.ProcessorCount),
            WorkerPool.Concurrency,
            CheckGemm(),
            TimeGemm());
        if (output.Json) output.WriteJson(result);
        else
        {
            string Yes(bool b) => b ? "yes" : "no";
            var g = result.Gemm;
            output.WriteProperties([
                ("kernel path", result.KernelPath),
                ("supported paths", string.Join(", ", result.SupportedPaths)),
                ("avx-512 / avx2 / fma", $"{Yes(result.Cpu.Avx512)} / {Yes(result.Cpu.Avx2)} / {Yes(result.Cpu.Fma)}"),
                ("threads", $"{result.Threads} ({result.Cpu.LogicalProcessors} logical processors)"),
                ("gemm check", $"{(result.GemmCheck.Ok ? "ok" : "FAILED")} (max |diff| vs scalar {result.GemmCheck.MaxAbsDiff.ToString("G3", CultureInfo.InvariantCulture)})"),
                ("gemm speed", $"{g.Gflops.ToString("F1", CultureInfo.InvariantCulture)} GFLOP/s ({g.M}×{g.N}×{g.K}, {g.Reps} reps)"),
            ]);
        }
        return result.GemmCheck.Ok ? 0 : 1;
    }

    private static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    private static GemmCheck CheckGemm()
    {
        const int m = 37, n = 53, k = 300;
        float[] a = Random(m * k, 1), b = Random(k * n, 2), best = new float[m * n], scalar = new float[m * n];
        Gemm.Multiply(m, n, k, a, k, false, b, n, false, best, n, 0f, KernelPaths.Best);
        Gemm.Multiply(m, n, k, a, k, false, b, n, false, scalar, n, 0f, KernelPath.Scalar);
        double diff = 0;
        for (int i = 0; i < best.Length; i++) diff = Math.Max(diff, Math.Abs(best[i] - scalar[i]));
        return new GemmCheck(diff, diff <= 1e-3);
    }

    private static GemmSpeed TimeGemm()
    {
        float[] a = Random(M * K, 3), b = Random(K * N, 4), c = new float[M * N];
        Gemm.Multiply(M, N, K, a, K, false, b, N, false, c, N);
        var watch = Stopwatch.StartNew();
        for (int r = 0; r < Reps; r++) Gemm.Multiply(M, N, K, a, K, false, b, N, false, c, N);
        double seconds = watch.Elapsed.TotalSeconds;
        return new GemmSpeed(M, N, K, Reps, seconds, 2.0 * M * N * K * Reps / seconds / 1e9);
    }
}

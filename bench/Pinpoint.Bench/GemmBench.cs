using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Bench;

/// <summary>
/// GEMM throughput of <see cref="Gemm"/> against OpenBLAS <c>cblas_sgemm</c> on the same buffers and thread count,
/// plus the machine's measured FMA peak. Shapes are (m, k, n): C[m×n] = A[m×k]·B[k×n].
/// </summary>
public static unsafe class GemmBench
{
    private static readonly (int M, int K, int N)[] Shapes = [(128, 768, 768), (128, 768, 3072), (128, 3072, 768), (512, 768, 50257), (1, 768, 3072)];
    private const int Repetitions = 6;
    private const double SecondsPerRepetition = 0.2;

    public static int Run(bool json)
    {
        int threads = WorkerPool.Concurrency;
        var openBlas = OpenBlas.Load(threads);
        double peak = MeasurePeak();
        var rows = new List<(int M, int K, int N, double Ours, double Blas)>();
        foreach (var (m, k, n) in Shapes)
        {
            var rng = new Random(42);
            var a = RandomArray(rng, m * k);
            var b = RandomArray(rng, k * n);
            var c = new float[m * n];
            double flops = 2.0 * m * n * k;
            var ours = new Timer(() => Gemm.Multiply(m, n, k, a, k, false, b, n, false, c, n));
            var blas = new Timer(() => openBlas.Sgemm(m, n, k, a, b, c));
            // Alternate the two so background load on the shared machine hits both alike.
            for (int r = 0; r < Repetitions; r++)
            {
                ours.Repeat();
                blas.Repeat();
            }
            rows.Add((m, k, n, flops / ours.BestSeconds / 1e9, flops / blas.BestSeconds / 1e9));
        }
        Console.WriteLine(json ? Json(peak, rows) : Table(peak, threads, rows));
        return 0;
    }

    private static string Json(double peak, List<(int M, int K, int N, double Ours, double Blas)> rows)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{{\"peak_gflops\": {peak:F1}, \"shapes\": [");
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            if (i > 0) sb.Append(", ");
            sb.Append(CultureInfo.InvariantCulture,
                $"{{\"m\": {r.M}, \"k\": {r.K}, \"n\": {r.N}, \"gflops\": {r.Ours:F1}, \"openblas_gflops\": {r.Blas:F1}, \"ratio\": {r.Ours / r.Blas:F3}}}");
        }
        return sb.Append("]}").ToString();
    }

    private static string Table(double peak, int threads, List<(int M, int K, int N, double Ours, double Blas)> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"GEMM, {threads} threads, kernel {KernelPaths.Best}, OpenBLAS core {OpenBlas.CoreType}, FMA peak {peak:F1} GFLOP/s");
        sb.AppendLine("     m      k      n   Pinpoint   OpenBLAS   ratio   %peak");
        foreach (var r in rows)
            sb.AppendLine(CultureInfo.InvariantCulture, $"{r.M,6} {r.K,6} {r.N,6} {r.Ours,10:F1} {r.Blas,10:F1} {r.Ours / r.Blas,7:F3} {100 * r.Ours / peak,6:F1}%");
        return sb.ToString().TrimEnd();
    }

    private static float[] RandomArray(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>
    /// Times single calls over about <see cref="SecondsPerRepetition"/> per repetition and keeps the fastest: on a
    /// shared machine the fastest call is the one least disturbed by other processes, for both libraries alike.
    /// </summary>
    private sealed class Timer(Action action)
    {
        private bool _warm;

        public double BestSeconds { get; private set; } = double.MaxValue;

        public void Repeat()
        {
            if (!_warm)
            {
                action();
                _warm = true;
            }
            long end = Stopwatch.GetTimestamp() + (long)(SecondsPerRepetition * Stopwatch.Frequency);
            do
            {
                long start = Stopwatch.GetTimestamp();
                action();
                BestSeconds = Math.Min(BestSeconds, Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            while (Stopwatch.GetTimestamp() < end);
        }
    }

    /// <summary>FMA throughput with enough independent accumulator chains to cover latency, on every pool thread.</summary>
    private static double MeasurePeak()
    {
        // Many short runs, keeping the best, so a moment when both cores are free is likely to be caught.
        const long iterations = 2_000_000;
        int threads = WorkerPool.Concurrency;
        double best = 0;
        var sink = new double[threads]; // keeps the loops' results alive
        for (int r = 0; r < 100; r++)
        {
            var sw = Stopwatch.StartNew();
            WorkerPool.ParallelFor(threads, sink, static (s, t) => s[t] = FmaLoop(iterations));
            double elapsed = sw.Elapsed.TotalSeconds;
            int lanes = Avx512F.IsSupported ? 16 : 8;
            best = Math.Max(best, threads * iterations * 12.0 * lanes * 2 / elapsed / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double FmaLoop(long iterations)
    {
        if (!Avx512F.IsSupported)
        {
            var x = Vector256.Create(1e-7f);
            var y = Vector256.Create(1f);
            Vector256<float> a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y, a8 = y, a9 = y, a10 = y, a11 = y;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Fma.MultiplyAdd(a0, x, y); a1 = Fma.MultiplyAdd(a1, x, y); a2 = Fma.MultiplyAdd(a2, x, y); a3 = Fma.MultiplyAdd(a3, x, y);
                a4 = Fma.MultiplyAdd(a4, x, y); a5 = Fma.MultiplyAdd(a5, x, y); a6 = Fma.MultiplyAdd(a6, x, y); a7 = Fma.MultiplyAdd(a7, x, y);
                a8 = Fma.MultiplyAdd(a8, x, y); a9 = Fma.MultiplyAdd(a9, x, y); a10 = Fma.MultiplyAdd(a10, x, y); a11 = Fma.MultiplyAdd(a11, x, y);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        var vx = Vector512.Create(1e-7f);
        var vy = Vector512.Create(1f);
        Vector512<float> b0 = vy, b1 = vy, b2 = vy, b3 = vy, b4 = vy, b5 = vy, b6 = vy, b7 = vy, b8 = vy, b9 = vy, b10 = vy, b11 = vy;
        for (long i = 0; i < iterations; i++)
        {
            b0 = Avx512F.FusedMultiplyAdd(b0, vx, vy); b1 = Avx512F.FusedMultiplyAdd(b1, vx, vy); b2 = Avx512F.FusedMultiplyAdd(b2, vx, vy);
            b3 = Avx512F.FusedMultiplyAdd(b3, vx, vy); b4 = Avx512F.FusedMultiplyAdd(b4, vx, vy); b5 = Avx512F.FusedMultiplyAdd(b5, vx, vy);
            b6 = Avx512F.FusedMultiplyAdd(b6, vx, vy); b7 = Avx512F.FusedMultiplyAdd(b7, vx, vy); b8 = Avx512F.FusedMultiplyAdd(b8, vx, vy);
            b9 = Avx512F.FusedMultiplyAdd(b9, vx, vy); b10 = Avx512F.FusedMultiplyAdd(b10, vx, vy); b11 = Avx512F.FusedMultiplyAdd(b11, vx, vy);
        }
        return Vector512.Sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11);
    }

    /// <summary>OpenBLAS loaded at run time (Debian libopenblas0-pthread), pinned to the same thread count as the pool.</summary>
    private sealed class OpenBlas
    {
        private const int RowMajor = 101, NoTrans = 111;
        private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;

        private OpenBlas(nint library)
        {
            _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)
                NativeLibrary.GetExport(library, "cblas_sgemm");
        }

        /// <summary>The OpenBLAS core type in use (its CPU detection falls back to Prescott on this VM's generic CPUID).</summary>
        public static string CoreType { get; private set; } = "";

        public static OpenBlas Load(int threads)
        {
            // OpenBLAS reads these from the native environment when it loads; Environment.SetEnvironmentVariable
            // only changes .NET's copy on Unix, so go through libc.
            SetNativeEnvironment("OPENBLAS_NUM_THREADS", threads.ToString(CultureInfo.InvariantCulture), overwrite: true);
            CoreType = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? (Avx512F.IsSupported ? "SkylakeX" : Avx2.IsSupported ? "Haswell" : "");
            if (CoreType.Length > 0) SetNativeEnvironment("OPENBLAS_CORETYPE", CoreType, overwrite: false);
            if (!NativeLibrary.TryLoad("libopenblas.so.0", out var library))
                throw new BenchSetupException("libopenblas.so.0 not found; install it with `apt-get install libopenblas0-pthread` (the GEMM suite compares against OpenBLAS)");
            if (NativeLibrary.TryGetExport(library, "openblas_set_num_threads", out var setThreads))
                ((delegate* unmanaged<int, void>)setThreads)(threads);
            return new OpenBlas(library);
        }

        private static void SetNativeEnvironment(string name, string value, bool overwrite)
        {
            if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "setenv", out var setenv))
                throw new BenchSetupException("cannot find setenv in libc.so.6 to configure OpenBLAS");
            var n = Marshal.StringToCoTaskMemUTF8(name);
            var v = Marshal.StringToCoTaskMemUTF8(value);
            ((delegate* unmanaged<nint, nint, int, int>)setenv)(n, v, overwrite ? 1 : 0);
            Marshal.FreeCoTaskMem(n);
            Marshal.FreeCoTaskMem(v);
        }

        public void Sgemm(int m, int n, int k, float[] a, float[] b, float[] c)
        {
            fixed (float* pa = a)
            fixed (float* pb = b)
            fixed (float* pc = c)
                _sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
        }
    }
}

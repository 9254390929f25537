using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Register-tiled GEMM micro-kernels: C[MR×NR] (row stride ldc) = A panel · B panel (+ beta·C), where the
/// A panel holds kc columns of MR values (p-major) and the B panel kc rows of NR values, both packed by
/// <see cref="GemmPacking"/>. Tiles are always full; the driver routes edge tiles through a scratch tile.
/// When beta is 0, C is only written, so it may hold garbage (NaN) on entry.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    public const int Avx512Mr = 12, Avx512Nr = 32, Avx512TailMr = 8;
    public const int Avx2Mr = 6, Avx2Nr = 16;
    public const int Vector128Mr = 6, Vector128Nr = 8;
    public const int ScalarMr = 4, ScalarNr = 4;

    public static int Mr(KernelPath path) => path switch { KernelPath.Avx512 => Avx512Mr, KernelPath.Avx2 => Avx2Mr, KernelPath.Vector128 => Vector128Mr, _ => ScalarMr };

    /// <summary>Height of a last, short row panel: packed and computed at this height when its rows fit.</summary>
    public static int TailMr(KernelPath path) => path == KernelPath.Avx512 ? Avx512TailMr : Mr(path);

    public static int Nr(KernelPath path) => path switch { KernelPath.Avx512 => Avx512Nr, KernelPath.Avx2 => Avx2Nr, KernelPath.Vector128 => Vector128Nr, _ => ScalarNr };

    /// <summary>One tile; <paramref name="tail"/> selects the short-panel kernel where the path has one.</summary>
    public static void Tile(KernelPath path, bool tail, int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        switch (path)
        {
            case KernelPath.Avx512 when tail: Avx512TailTile(kc, a, b, c, ldc, beta); break;
            case KernelPath.Avx512: Avx512Tile(kc, a, b, c, ldc, beta); break;
            case KernelPath.Avx2: Avx2Tile(kc, a, b, c, ldc, beta); break;
            case KernelPath.Vector128: Vector128Tile(kc, a, b, c, ldc, beta); break;
            default: ScalarTile(kc, a, b, c, ldc, beta); break;
        }
    }

    /// <summary>AVX-512 12×32 tile: 24 zmm accumulators, two B vectors and one broadcast of A per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Tile(int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        Vector512<float> c00 = Vector512<float>.Zero, c01 = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c11 = Vector512<float>.Zero;
        Vector512<float> c20 = Vector512<float>.Zero, c21 = Vector512<float>.Zero;
        Vector512<float> c30 = Vector512<float>.Zero, c31 = Vector512<float>.Zero;
        Vector512<float> c40 = Vector512<float>.Zero, c41 = Vector512<float>.Zero;
        Vector512<float> c50 = Vector512<float>.Zero, c51 = Vector512<float>.Zero;
        Vector512<float> c60 = Vector512<float>.Zero, c61 = Vector512<float>.Zero;
        Vector512<float> c70 = Vector512<float>.Zero, c71 = Vector512<float>.Zero;
        Vector512<float> c80 = Vector512<float>.Zero, c81 = Vector512<float>.Zero;
        Vector512<float> c90 = Vector512<float>.Zero, c91 = Vector512<float>.Zero;
        Vector512<float> c100 = Vector512<float>.Zero, c101 = Vector512<float>.Zero;
        Vector512<float> c110 = Vector512<float>.Zero, c111 = Vector512<float>.Zero;
        // C rows are far apart (ldc can be tens of thousands); fetch them now so the update at the end does not stall.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + 31);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + 31);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + 31);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + 31);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + 31);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + 31);
        Sse.Prefetch0(c + 6 * ldc); Sse.Prefetch0(c + 6 * ldc + 16); Sse.Prefetch0(c + 6 * ldc + 31);
        Sse.Prefetch0(c + 7 * ldc); Sse.Prefetch0(c + 7 * ldc + 16); Sse.Prefetch0(c + 7 * ldc + 31);
        Sse.Prefetch0(c + 8 * ldc); Sse.Prefetch0(c + 8 * ldc + 16); Sse.Prefetch0(c + 8 * ldc + 31);
        Sse.Prefetch0(c + 9 * ldc); Sse.Prefetch0(c + 9 * ldc + 16); Sse.Prefetch0(c + 9 * ldc + 31);
        Sse.Prefetch0(c + 10 * ldc); Sse.Prefetch0(c + 10 * ldc + 16); Sse.Prefetch0(c + 10 * ldc + 31);
        Sse.Prefetch0(c + 11 * ldc); Sse.Prefetch0(c + 11 * ldc + 16); Sse.Prefetch0(c + 11 * ldc + 31);
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadAlignedVector512(b);
            var b1 = Avx512F.LoadAlignedVector512(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            var a8 = Vector512.Create(a[8]);
            c80 = Avx512F.FusedMultiplyAdd(a8, b0, c80);
            c81 = Avx512F.FusedMultiplyAdd(a8, b1, c81);
            var a9 = Vector512.Create(a[9]);
            c90 = Avx512F.FusedMultiplyAdd(a9, b0, c90);
            c91 = Avx512F.FusedMultiplyAdd(a9, b1, c91);
            var a10 = Vector512.Create(a[10]);
            c100 = Avx512F.FusedMultiplyAdd(a10, b0, c100);
            c101 = Avx512F.FusedMultiplyAdd(a10, b1, c101);
            var a11 = Vector512.Create(a[11]);
            c110 = Avx512F.FusedMultiplyAdd(a11, b0, c110);
            c111 = Avx512F.FusedMultiplyAdd(a11, b1, c111);
            a += 12;
            b += 32;
        }
        if (beta == 0f)
        {
            Avx512F.Store(c + 0 * ldc, c00); Avx512F.Store(c + 0 * ldc + 16, c01);
            Avx512F.Store(c + 1 * ldc, c10); Avx512F.Store(c + 1 * ldc + 16, c11);
            Avx512F.Store(c + 2 * ldc, c20); Avx512F.Store(c + 2 * ldc + 16, c21);
            Avx512F.Store(c + 3 * ldc, c30); Avx512F.Store(c + 3 * ldc + 16, c31);
            Avx512F.Store(c + 4 * ldc, c40); Avx512F.Store(c + 4 * ldc + 16, c41);
            Avx512F.Store(c + 5 * ldc, c50); Avx512F.Store(c + 5 * ldc + 16, c51);
            Avx512F.Store(c + 6 * ldc, c60); Avx512F.Store(c + 6 * ldc + 16, c61);
            Avx512F.Store(c + 7 * ldc, c70); Avx512F.Store(c + 7 * ldc + 16, c71);
            Avx512F.Store(c + 8 * ldc, c80); Avx512F.Store(c + 8 * ldc + 16, c81);
            Avx512F.Store(c + 9 * ldc, c90); Avx512F.Store(c + 9 * ldc + 16, c91);
            Avx512F.Store(c + 10 * ldc, c100); Avx512F.Store(c + 10 * ldc + 16, c101);
            Avx512F.Store(c + 11 * ldc, c110); Avx512F.Store(c + 11 * ldc + 16, c111);
            return;
        }
        var vb = Vector512.Create(beta);
        Avx512F.Store(c + 0 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 0 * ldc), vb, c00));
        Avx512F.Store(c + 0 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 0 * ldc + 16), vb, c01));
        Avx512F.Store(c + 1 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 1 * ldc), vb, c10));
        Avx512F.Store(c + 1 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 1 * ldc + 16), vb, c11));
        Avx512F.Store(c + 2 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 2 * ldc), vb, c20));
        Avx512F.Store(c + 2 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 2 * ldc + 16), vb, c21));
        Avx512F.Store(c + 3 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 3 * ldc), vb, c30));
        Avx512F.Store(c + 3 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 3 * ldc + 16), vb, c31));
        Avx512F.Store(c + 4 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 4 * ldc), vb, c40));
        Avx512F.Store(c + 4 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 4 * ldc + 16), vb, c41));
        Avx512F.Store(c + 5 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 5 * ldc), vb, c50));
        Avx512F.Store(c + 5 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 5 * ldc + 16), vb, c51));
        Avx512F.Store(c + 6 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 6 * ldc), vb, c60));
        Avx512F.Store(c + 6 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 6 * ldc + 16), vb, c61));
        Avx512F.Store(c + 7 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 7 * ldc), vb, c70));
        Avx512F.Store(c + 7 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 7 * ldc + 16), vb, c71));
        Avx512F.Store(c + 8 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 8 * ldc), vb, c80));
        Avx512F.Store(c + 8 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 8 * ldc + 16), vb, c81));
        Avx512F.Store(c + 9 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 9 * ldc), vb, c90));
        Avx512F.Store(c + 9 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 9 * ldc + 16), vb, c91));
        Avx512F.Store(c + 10 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 10 * ldc), vb, c100));
        Avx512F.Store(c + 10 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 10 * ldc + 16), vb, c101));
        Avx512F.Store(c + 11 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 11 * ldc), vb, c110));
        Avx512F.Store(c + 11 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 11 * ldc + 16), vb, c111));
    }

    /// <summary>AVX-512 8×32 tile for the last row panel of A when it has at most 8 rows (packed 8 high).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512TailTile(int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        Vector512<float> c00 = Vector512<float>.Zero, c01 = Vector512<float>.Zero;
        Vector512<float> c10 = Vector512<float>.Zero, c11 = Vector512<float>.Zero;
        Vector512<float> c20 = Vector512<float>.Zero, c21 = Vector512<float>.Zero;
        Vector512<float> c30 = Vector512<float>.Zero, c31 = Vector512<float>.Zero;
        Vector512<float> c40 = Vector512<float>.Zero, c41 = Vector512<float>.Zero;
        Vector512<float> c50 = Vector512<float>.Zero, c51 = Vector512<float>.Zero;
        Vector512<float> c60 = Vector512<float>.Zero, c61 = Vector512<float>.Zero;
        Vector512<float> c70 = Vector512<float>.Zero, c71 = Vector512<float>.Zero;
        // C rows are far apart (ldc can be tens of thousands); fetch them now so the update at the end does not stall.
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + 31);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + 31);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + 31);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + 31);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + 31);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + 31);
        Sse.Prefetch0(c + 6 * ldc); Sse.Prefetch0(c + 6 * ldc + 16); Sse.Prefetch0(c + 6 * ldc + 31);
        Sse.Prefetch0(c + 7 * ldc); Sse.Prefetch0(c + 7 * ldc + 16); Sse.Prefetch0(c + 7 * ldc + 31);
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadAlignedVector512(b);
            var b1 = Avx512F.LoadAlignedVector512(b + 16);
            var a0 = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(a0, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(a1, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(a2, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(a3, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(a4, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(a5, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(a6, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(a7, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(a7, b1, c71);
            a += 8;
            b += 32;
        }
        if (beta == 0f)
        {
            Avx512F.Store(c + 0 * ldc, c00); Avx512F.Store(c + 0 * ldc + 16, c01);
            Avx512F.Store(c + 1 * ldc, c10); Avx512F.Store(c + 1 * ldc + 16, c11);
            Avx512F.Store(c + 2 * ldc, c20); Avx512F.Store(c + 2 * ldc + 16, c21);
            Avx512F.Store(c + 3 * ldc, c30); Avx512F.Store(c + 3 * ldc + 16, c31);
            Avx512F.Store(c + 4 * ldc, c40); Avx512F.Store(c + 4 * ldc + 16, c41);
            Avx512F.Store(c + 5 * ldc, c50); Avx512F.Store(c + 5 * ldc + 16, c51);
            Avx512F.Store(c + 6 * ldc, c60); Avx512F.Store(c + 6 * ldc + 16, c61);
            Avx512F.Store(c + 7 * ldc, c70); Avx512F.Store(c + 7 * ldc + 16, c71);
            return;
        }
        var vb = Vector512.Create(beta);
        Avx512F.Store(c + 0 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 0 * ldc), vb, c00));
        Avx512F.Store(c + 0 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 0 * ldc + 16), vb, c01));
        Avx512F.Store(c + 1 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 1 * ldc), vb, c10));
        Avx512F.Store(c + 1 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 1 * ldc + 16), vb, c11));
        Avx512F.Store(c + 2 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 2 * ldc), vb, c20));
        Avx512F.Store(c + 2 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 2 * ldc + 16), vb, c21));
        Avx512F.Store(c + 3 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 3 * ldc), vb, c30));
        Avx512F.Store(c + 3 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 3 * ldc + 16), vb, c31));
        Avx512F.Store(c + 4 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 4 * ldc), vb, c40));
        Avx512F.Store(c + 4 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 4 * ldc + 16), vb, c41));
        Avx512F.Store(c + 5 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 5 * ldc), vb, c50));
        Avx512F.Store(c + 5 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 5 * ldc + 16), vb, c51));
        Avx512F.Store(c + 6 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 6 * ldc), vb, c60));
        Avx512F.Store(c + 6 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 6 * ldc + 16), vb, c61));
        Avx512F.Store(c + 7 * ldc, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 7 * ldc), vb, c70));
        Avx512F.Store(c + 7 * ldc + 16, Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(c + 7 * ldc + 16), vb, c71));
    }

    /// <summary>AVX2 6×16 tile: 12 ymm accumulators, two B vectors and one broadcast of A per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Tile(int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        Vector256<float> c00 = Vector256<float>.Zero, c01 = Vector256<float>.Zero;
        Vector256<float> c10 = Vector256<float>.Zero, c11 = Vector256<float>.Zero;
        Vector256<float> c20 = Vector256<float>.Zero, c21 = Vector256<float>.Zero;
        Vector256<float> c30 = Vector256<float>.Zero, c31 = Vector256<float>.Zero;
        Vector256<float> c40 = Vector256<float>.Zero, c41 = Vector256<float>.Zero;
        Vector256<float> c50 = Vector256<float>.Zero, c51 = Vector256<float>.Zero;
        Sse.Prefetch0(c + 0 * ldc); Sse.Prefetch0(c + 0 * ldc + 15);
        Sse.Prefetch0(c + 1 * ldc); Sse.Prefetch0(c + 1 * ldc + 15);
        Sse.Prefetch0(c + 2 * ldc); Sse.Prefetch0(c + 2 * ldc + 15);
        Sse.Prefetch0(c + 3 * ldc); Sse.Prefetch0(c + 3 * ldc + 15);
        Sse.Prefetch0(c + 4 * ldc); Sse.Prefetch0(c + 4 * ldc + 15);
        Sse.Prefetch0(c + 5 * ldc); Sse.Prefetch0(c + 5 * ldc + 15);
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadAlignedVector256(b);
            var b1 = Avx.LoadAlignedVector256(b + 8);
            var a0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(a0, b0, c00);
            c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(a1, b0, c10);
            c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(a2, b0, c20);
            c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(a3, b0, c30);
            c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(a4, b0, c40);
            c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(a5, b0, c50);
            c51 = Fma.MultiplyAdd(a5, b1, c51);
            a += 6;
            b += 16;
        }
        if (beta == 0f)
        {
            Avx.Store(c + 0 * ldc, c00); Avx.Store(c + 0 * ldc + 8, c01);
            Avx.Store(c + 1 * ldc, c10); Avx.Store(c + 1 * ldc + 8, c11);
            Avx.Store(c + 2 * ldc, c20); Avx.Store(c + 2 * ldc + 8, c21);
            Avx.Store(c + 3 * ldc, c30); Avx.Store(c + 3 * ldc + 8, c31);
            Avx.Store(c + 4 * ldc, c40); Avx.Store(c + 4 * ldc + 8, c41);
            Avx.Store(c + 5 * ldc, c50); Avx.Store(c + 5 * ldc + 8, c51);
            return;
        }
        var vb = Vector256.Create(beta);
        Avx.Store(c + 0 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 0 * ldc), vb, c00));
        Avx.Store(c + 0 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 0 * ldc + 8), vb, c01));
        Avx.Store(c + 1 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 1 * ldc), vb, c10));
        Avx.Store(c + 1 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 1 * ldc + 8), vb, c11));
        Avx.Store(c + 2 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 2 * ldc), vb, c20));
        Avx.Store(c + 2 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 2 * ldc + 8), vb, c21));
        Avx.Store(c + 3 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 3 * ldc), vb, c30));
        Avx.Store(c + 3 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 3 * ldc + 8), vb, c31));
        Avx.Store(c + 4 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 4 * ldc), vb, c40));
        Avx.Store(c + 4 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 4 * ldc + 8), vb, c41));
        Avx.Store(c + 5 * ldc, Fma.MultiplyAdd(Avx.LoadVector256(c + 5 * ldc), vb, c50));
        Avx.Store(c + 5 * ldc + 8, Fma.MultiplyAdd(Avx.LoadVector256(c + 5 * ldc + 8), vb, c51));
    }

    /// <summary>
    /// Portable 128-bit 6×8 tile (SSE without AVX2, AdvSimd on ARM): 12 accumulators, two B vectors and one broadcast
    /// of A per row, which fits x86's 16 xmm registers. The multiply-add is fused where the hardware has one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Vector128Tile(int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        Vector128<float> c00 = Vector128<float>.Zero, c01 = Vector128<float>.Zero;
        Vector128<float> c10 = Vector128<float>.Zero, c11 = Vector128<float>.Zero;
        Vector128<float> c20 = Vector128<float>.Zero, c21 = Vector128<float>.Zero;
        Vector128<float> c30 = Vector128<float>.Zero, c31 = Vector128<float>.Zero;
        Vector128<float> c40 = Vector128<float>.Zero, c41 = Vector128<float>.Zero;
        Vector128<float> c50 = Vector128<float>.Zero, c51 = Vector128<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var a0 = Vector128.Create(a[0]);
            c00 = Vector128.MultiplyAddEstimate(a0, b0, c00);
            c01 = Vector128.MultiplyAddEstimate(a0, b1, c01);
            var a1 = Vector128.Create(a[1]);
            c10 = Vector128.MultiplyAddEstimate(a1, b0, c10);
            c11 = Vector128.MultiplyAddEstimate(a1, b1, c11);
            var a2 = Vector128.Create(a[2]);
            c20 = Vector128.MultiplyAddEstimate(a2, b0, c20);
            c21 = Vector128.MultiplyAddEstimate(a2, b1, c21);
            var a3 = Vector128.Create(a[3]);
            c30 = Vector128.MultiplyAddEstimate(a3, b0, c30);
            c31 = Vector128.MultiplyAddEstimate(a3, b1, c31);
            var a4 = Vector128.Create(a[4]);
            c40 = Vector128.MultiplyAddEstimate(a4, b0, c40);
            c41 = Vector128.MultiplyAddEstimate(a4, b1, c41);
            var a5 = Vector128.Create(a[5]);
            c50 = Vector128.MultiplyAddEstimate(a5, b0, c50);
            c51 = Vector128.MultiplyAddEstimate(a5, b1, c51);
            a += 6;
            b += 8;
        }
        StoreRow128(c + 0 * ldc, c00, c01, beta);
        StoreRow128(c + 1 * ldc, c10, c11, beta);
        StoreRow128(c + 2 * ldc, c20, c21, beta);
        StoreRow128(c + 3 * ldc, c30, c31, beta);
        StoreRow128(c + 4 * ldc, c40, c41, beta);
        StoreRow128(c + 5 * ldc, c50, c51, beta);
    }

    /// <summary>c[0..8) = (lo, hi), plus beta·c when beta is not 0 (C may hold NaN when it is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow128(float* c, Vector128<float> lo, Vector128<float> hi, float beta)
    {
        if (beta != 0f)
        {
            var vb = Vector128.Create(beta);
            lo = Vector128.MultiplyAddEstimate(Vector128.Load(c), vb, lo);
            hi = Vector128.MultiplyAddEstimate(Vector128.Load(c + 4), vb, hi);
        }
        Vector128.Store(lo, c);
        Vector128.Store(hi, c + 4);
    }

    /// <summary>Portable 4×4 tile with sixteen scalar accumulators.</summary>
    public static void ScalarTile(int kc, float* a, float* b, float* c, int ldc, float beta)
    {
        var acc = stackalloc float[ScalarMr * ScalarNr];
        for (int i = 0; i < ScalarMr * ScalarNr; i++) acc[i] = 0f;
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < ScalarMr; i++)
            {
                float ai = a[i];
                for (int j = 0; j < ScalarNr; j++) acc[i * ScalarNr + j] += ai * b[j];
            }
            a += ScalarMr;
            b += ScalarNr;
        }
        for (int i = 0; i < ScalarMr; i++)
        for (int j = 0; j < ScalarNr; j++)
            c[i * ldc + j] = beta == 0f ? acc[i * ScalarNr + j] : acc[i * ScalarNr + j] + beta * c[i * ldc + j];
    }
}

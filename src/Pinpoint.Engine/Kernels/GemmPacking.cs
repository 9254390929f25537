using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layouts the micro-kernels stream: A as MR-row panels
/// (for each p, MR consecutive values), B as NR-column panels (for each p, NR consecutive values). Partial
/// panels are zero-padded so every tile can be computed at full size. 16-bit B is widened to f32 here.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(A)[0..mc, 0..kc) where <paramref name="a"/> points at op(A)[0, 0].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* a, int lda, bool transposeA, int mc, int kc, int mr, float* dst)
    {
        for (int i0 = 0; i0 < mc; i0 += mr, dst += kc * mr)
        {
            int rows = Math.Min(mr, mc - i0);
            if (rows < mr) new Span<float>(dst, kc * mr).Clear();
            if (transposeA)
            {
                // op(A)[i, p] = a[p·lda + i]: each p is a contiguous run of the panel's rows.
                for (int p = 0; p < kc; p++)
                    Unsafe.CopyBlockUnaligned(dst + p * mr, a + p * lda + i0, (uint)(rows * sizeof(float)));
            }
            else
            {
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (i0 + i) * lda;
                    float* d = dst + i;
                    for (int p = 0; p < kc; p++) d[p * mr] = src[p];
                }
            }
        }
    }

    /// <summary>Packs op(B)[0..kc, 0..nc) where <paramref name="b"/> points at op(B)[0, 0].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, int ldb, bool transposeB, int kc, int nc, int nr, float* dst)
    {
        for (int j0 = 0; j0 < nc; j0 += nr, dst += kc * nr)
        {
            int cols = Math.Min(nr, nc - j0);
            if (cols < nr) new Span<float>(dst, kc * nr).Clear();
            if (!transposeB)
            {
                for (int p = 0; p < kc; p++)
                    CopyRun(b + p * ldb + j0, dst + p * nr, cols);
            }
            else
            {
                // op(B)[p, j] = b[j·ldb + p]: read each stored row once, scatter it down the panel column.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (j0 + j) * ldb;
                    float* d = dst + j;
                    for (int p = 0; p < kc; p++) d[p * nr] = src[p];
                }
            }
        }
    }

    /// <summary>As <see cref="PackB"/> for bf16/f16 storage; <paramref name="scratch"/> holds at least kc floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB16(ushort* b, DType dtype, int ldb, bool transposeB, int kc, int nc, int nr, float* dst, float* scratch)
    {
        for (int j0 = 0; j0 < nc; j0 += nr, dst += kc * nr)
        {
            int cols = Math.Min(nr, nc - j0);
            if (cols < nr) new Span<float>(dst, kc * nr).Clear();
            if (!transposeB)
            {
                for (int p = 0; p < kc; p++)
                    Widen(b + p * ldb + j0, dtype, dst + p * nr, cols);
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    Widen(b + (j0 + j) * ldb, dtype, scratch, kc);
                    float* d = dst + j;
                    for (int p = 0; p < kc; p++) d[p * nr] = scratch[p];
                }
            }
        }
    }

    /// <summary>Converts <paramref name="count"/> bf16/f16 values to f32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(ushort* src, DType dtype, float* dst, int count)
    {
        if (dtype == DType.F16)
        {
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(src, count), new Span<float>(dst, count));
            return;
        }
        if (dtype != DType.BF16) throw new ArgumentException($"{dtype} is not a 16-bit type", nameof(dtype));
        int i = 0;
        if (Avx512F.IsSupported)
        {
            for (; i + 16 <= count; i += 16)
            {
                var wide = Avx512F.ConvertToVector512UInt32(Avx.LoadVector256(src + i));
                Avx512F.Store((uint*)(dst + i), Avx512F.ShiftLeftLogical(wide, 16));
            }
        }
        else if (Avx2.IsSupported)
        {
            for (; i + 8 <= count; i += 8)
            {
                var wide = Avx2.ConvertToVector256Int32(Sse2.LoadVector128(src + i)).AsUInt32();
                Avx.Store((uint*)(dst + i), Avx2.ShiftLeftLogical(wide, 16));
            }
        }
        for (; i < count; i++) ((uint*)dst)[i] = (uint)src[i] << 16;
    }

    private static void CopyRun(float* src, float* dst, int count)
    {
        if (count == 32 && Avx512F.IsSupported)
        {
            Avx512F.Store(dst, Avx512F.LoadVector512(src));
            Avx512F.Store(dst + 16, Avx512F.LoadVector512(src + 16));
            return;
        }
        Unsafe.CopyBlockUnaligned(dst, src, (uint)(count * sizeof(float)));
    }
}

/// <summary>
/// Per-thread, 64-byte-aligned packing buffers, allocated on a thread's first GEMM and reused for all later ones.
/// Native memory is freed when the thread ends (the holder is then collected).
/// </summary>
internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? t_current;

    public readonly float* A;
    public readonly float* B;
    public readonly float* Tile;
    public readonly float* Scratch;
    private float* _sharedPackedA;

    private GemmBuffers()
    {
        A = Alloc(Gemm.PackedASize);
        B = Alloc(Gemm.PackedBSize);
        Tile = Alloc(Gemm.MaxTile);
        Scratch = Alloc(Math.Max(Gemm.Kc, Gemm.ScratchSize));
    }

    public static GemmBuffers Current => t_current ??= new GemmBuffers();

    /// <summary>Room for a whole packed op(A) that this thread's GEMM shares with the pool; allocated on first use.</summary>
    public float* SharedPackedA => _sharedPackedA != null ? _sharedPackedA : _sharedPackedA = Alloc(Gemm.SharedPackedASize);

    ~GemmBuffers()
    {
        NativeMemory.AlignedFree(A);
        NativeMemory.AlignedFree(B);
        NativeMemory.AlignedFree(Tile);
        NativeMemory.AlignedFree(Scratch);
        NativeMemory.AlignedFree(_sharedPackedA);
    }

    private static float* Alloc(int floats) => (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
}

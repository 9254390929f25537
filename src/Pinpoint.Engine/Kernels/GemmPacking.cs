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
    /// <summary>
    /// Packs op(A)[0..mc, 0..kc) where <paramref name="a"/> points at op(A)[0, 0]. A last panel with at most
    /// <paramref name="tailMr"/> rows is packed that high (for a smaller tail kernel) at the same offset.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* a, int lda, bool transposeA, int mc, int kc, int fullMr, int tailMr, float* dst, bool vector)
    {
        for (int i0 = 0; i0 < mc; i0 += fullMr, dst += kc * fullMr)
        {
            int rows = Math.Min(fullMr, mc - i0);
            int mr = rows <= tailMr ? tailMr : fullMr;
            if (rows < mr) new Span<float>(dst, kc * mr).Clear();
            if (transposeA)
            {
                // op(A)[i, p] = a[p·lda + i]: each p is a contiguous run of the panel's rows.
                for (int p = 0; p < kc; p++)
                    Unsafe.CopyBlockUnaligned(dst + p * mr, a + p * lda + i0, (uint)(rows * sizeof(float)));
            }
            else
            {
                TransposeInto(a + (long)i0 * lda, lda, rows, kc, dst, mr, vector);
            }
        }
    }

    /// <summary>Packs op(B)[0..kc, 0..nc) where <paramref name="b"/> points at op(B)[0, 0].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* b, int ldb, bool transposeB, int kc, int nc, int nr, float* dst, bool vector)
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
                // op(B)[p, j] = b[j·ldb + p]: stored rows become panel columns.
                TransposeInto(b + (long)j0 * ldb, ldb, cols, kc, dst, nr, vector);
            }
        }
    }

    /// <summary>As <see cref="PackB"/> for bf16/f16 storage; <paramref name="scratch"/> holds at least 8·kc floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB16(ushort* b, DType dtype, int ldb, bool transposeB, int kc, int nc, int nr, float* dst, float* scratch, bool vector)
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
                // Widen eight stored rows at a time, then transpose them into the panel like f32 rows.
                for (int j = 0; j < cols; j += 8)
                {
                    int rows = Math.Min(8, cols - j);
                    for (int r = 0; r < rows; r++) Widen(b + (long)(j0 + j + r) * ldb, dtype, scratch + r * kc, kc);
                    TransposeInto(scratch, kc, rows, kc, dst + j, nr, vector);
                }
            }
        }
    }

    /// <summary>
    /// As <see cref="PackB"/> for rows of quantized blocks (<paramref name="b"/> at a block boundary): used
    /// transposed, eight stored rows' kc values are dequantized at a time and transposed into the panel; used as
    /// stored, each of the kc rows is dequantized over the nc columns once and cut into panels.
    /// <paramref name="scratch"/> holds at least 8·kc and nc floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBQuantized(byte* b, DType dtype, int ldb, bool transposeB, int kc, int nc, int nr, float* dst, float* scratch, bool vector)
    {
        long rowBytes = dtype.ByteCount(ldb);
        if (!transposeB)
        {
            for (int p = 0; p < kc; p++)
            {
                BlockQuantization.DequantizeRange(dtype, b + p * rowBytes, 0, nc, scratch);
                for (int j0 = 0; j0 < nc; j0 += nr)
                {
                    int cols = Math.Min(nr, nc - j0);
                    float* panel = dst + (long)j0 * kc + p * nr;
                    Unsafe.CopyBlockUnaligned(panel, scratch + j0, (uint)(cols * sizeof(float)));
                    if (cols < nr) new Span<float>(panel + cols, nr - cols).Clear();
                }
            }
            return;
        }
        for (int j0 = 0; j0 < nc; j0 += nr, dst += kc * nr)
        {
            int cols = Math.Min(nr, nc - j0);
            if (cols < nr) new Span<float>(dst, kc * nr).Clear();
            for (int j = 0; j < cols; j += 8)
            {
                int rows = Math.Min(8, cols - j);
                for (int r = 0; r < rows; r++) BlockQuantization.DequantizeRange(dtype, b + (j0 + j + r) * rowBytes, 0, kc, scratch + r * kc);
                TransposeInto(scratch, kc, rows, kc, dst + j, nr, vector);
            }
        }
    }

    /// <summary>
    /// dst[p·dstStride + r] = src[r·ld + p] for r &lt; rows, p &lt; kc: the strided-to-panel transpose both operands
    /// need. Done in 8×8 (and 4×8) register blocks, so each element costs a fraction of a shuffle instead of a
    /// scalar load and a store to a new cache line.
    /// </summary>
    private static void TransposeInto(float* src, int ld, int rows, int kc, float* dst, int dstStride, bool vector)
    {
        int r = 0, p = 0;
        if (vector && Avx.IsSupported)
        {
            for (; r + 8 <= rows; r += 8)
            for (p = 0; p + 8 <= kc; p += 8)
                Transpose8x8(src + (long)r * ld + p, ld, dst + p * dstStride + r, dstStride);
            for (; r + 4 <= rows; r += 4)
            for (p = 0; p + 8 <= kc; p += 8)
                Transpose4x8(src + (long)r * ld + p, ld, dst + p * dstStride + r, dstStride);
            // Columns past the last multiple of 8 for the rows done above.
            int done = r;
            for (int q = kc & ~7; q < kc; q++)
            for (int i = 0; i < done; i++)
                dst[q * dstStride + i] = src[(long)i * ld + q];
        }
        for (; r < rows; r++)
        {
            float* s = src + (long)r * ld;
            for (p = 0; p < kc; p++) dst[p * dstStride + r] = s[p];
        }
    }

    private static void Transpose8x8(float* src, int ld, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2 * ld);
        var r3 = Avx.LoadVector256(src + 3 * ld);
        var r4 = Avx.LoadVector256(src + 4 * ld);
        var r5 = Avx.LoadVector256(src + 5 * ld);
        var r6 = Avx.LoadVector256(src + 6 * ld);
        var r7 = Avx.LoadVector256(src + 7 * ld);
        // Interleave pairs of rows, then pairs of pairs: each 128-bit half then holds four rows of one column.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    private static void Transpose4x8(float* src, int ld, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2 * ld);
        var r3 = Avx.LoadVector256(src + 3 * ld);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        Sse.Store(dst, s0.GetLower());
        Sse.Store(dst + dstStride, s1.GetLower());
        Sse.Store(dst + 2 * dstStride, s2.GetLower());
        Sse.Store(dst + 3 * dstStride, s3.GetLower());
        Sse.Store(dst + 4 * dstStride, s0.GetUpper());
        Sse.Store(dst + 5 * dstStride, s1.GetUpper());
        Sse.Store(dst + 6 * dstStride, s2.GetUpper());
        Sse.Store(dst + 7 * dstStride, s3.GetUpper());
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
        Scratch = Alloc(Gemm.ScratchSize);
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

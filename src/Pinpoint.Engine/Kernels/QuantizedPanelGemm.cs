using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Pinpoint.Engine.Tensors;
using Pinpoint.Engine.Threading;

namespace Pinpoint.Engine.Kernels;

/// <summary>
/// C = beta·C + A·Wᵀ for Q8_0 and K-quant weights (Q4_K, Q5_K, Q6_K) and several activation rows, on 8-bit
/// activations: the prefill product. As llama.cpp's repacked GEMM, eight weight rows are interleaved eight values at a
/// time so one 512-bit register holds 8 rows × 8 levels and a broadcast of 8 activations meets all of them in one
/// <c>vpmaddubsw</c> with no horizontal sums. K-quants: the int16 products of a scale group (32 values, 16 for Q6_K)
/// add up in int16 and meet the group's scale in one <c>vpmaddwd</c>, so a 256-value super-block accumulates in int32
/// and meets d·D once. Q8_0: the panel keeps the signed levels, <c>vpmaddubsw</c> takes |w| against the activations
/// negated where w &lt; 0, every record widens to int32 at once (two products of 127·127 already nearly fill an int16),
/// and each 32-value block meets d·D once. The interleaved panel (levels as bytes, scales spread over the lanes that
/// need them, per-row d and offset factors as f32) is built per call for a few row groups at a time in a per-thread
/// buffer that stays in L2 while every group of four activation rows passes over it: weights stay in their file
/// blocks, and the unpacking cost is shared by all activation rows. The offsets (Q4_K/Q5_K minimums, Q6_K's zero point
/// 32) come out of the activations' level sums. Threads split the row groups.
/// </summary>
/// <remarks>
/// Value bounds that keep int16 exact: activation levels are −127..127; a scale group adds at most 8 byte products
/// of levels ≤ 31 (Q4_K/Q5_K, 8·31·127 = 31,496) or 4 of levels ≤ 63 (Q6_K, 32,004) per int16 lane; a Q8_0 record
/// adds 2 products of |w| ≤ 128 (files from other quantizers may hold −128), 2·128·127 = 32,512.
/// </remarks>
public static unsafe class QuantizedPanelGemm
{
    /// <summary>Weight rows interleaved in one panel group.</summary>
    public const int GroupRows = 8;

    /// <summary>Activation rows each tile meets at once.</summary>
    private const int TileTokens = 4;

    /// <summary>Panel bytes one task packs and reuses for every activation tile: about half of a Zen 4 core's L2.</summary>
    private const int PanelBudget = 384 * 1024;

    /// <summary>Whether <paramref name="type"/> has a panel kernel.</summary>
    public static bool Supports(DType type) => type is DType.Q8_0 or DType.Q4_K or DType.Q5_K or DType.Q6_K;

    /// <summary>Values per scale group: 32 for Q4_K/Q5_K, 16 for Q6_K.</summary>
    private static int GroupValues(DType type) => type == DType.Q6_K ? 16 : 32;

    /// <summary>Level bytes per super-block of one row group: 32 records of 8 rows × 8 levels.</summary>
    private const int LevelBytes = 2048;

    /// <summary>
    /// Where a super-block of one row group keeps its parts, after its <see cref="LevelBytes"/> of levels: one 32 × int16
    /// scale record per scale group (at <see cref="LevelBytes"/>), one offset-coefficient record per four groups (at
    /// Coefficients), then 16 floats each of d and the offset factor (at Factors); Total is the super-block's size.
    /// </summary>
    private static (int Coefficients, int Factors, int Total) Layout(int groupValues)
    {
        int groups = BlockQuantization.QKK / groupValues;
        int coefficients = LevelBytes + groups * 64, factors = coefficients + groups / 4 * 64;
        return (coefficients, factors, factors + 128);
    }

    /// <summary>Level bytes of one Q8_0 block of a row group: 4 records of 8 rows × 8 levels, followed by 16 floats of d.</summary>
    private const int Q8_0LevelBytes = 256;

    /// <summary>Panel bytes of one Q8_0 block of a row group.</summary>
    private const int Q8_0BlockBytes = Q8_0LevelBytes + 64;

    /// <summary>Values per panel unit: a Q8_0 block (32) or a K-quant super-block (256).</summary>
    private static int UnitValues(DType type) => type == DType.Q8_0 ? BlockQuantization.QK : BlockQuantization.QKK;

    /// <summary>Panel bytes per unit of one row group.</summary>
    private static int UnitBytes(DType type) => type == DType.Q8_0 ? Q8_0BlockBytes : Layout(GroupValues(type)).Total;

    /// <summary>
    /// W's row r starts at byte r·<paramref name="rowBytes"/> of <paramref name="w"/>; k is a whole number of
    /// blocks (checked by the caller, <see cref="QuantizedGemm"/>).
    /// </summary>
    internal static void Run(KernelPath path, DType type, int m, int n, int k, float* a, int lda, byte* w, long rowBytes, float* c, int ldc, float beta)
    {
        int groups = (n + GroupRows - 1) / GroupRows;
        long groupBytes = (long)UnitBytes(type) * (k / UnitValues(type));
        var job = new Job
        {
            Path = path, Type = type, M = m, N = n, K = k, W = w, RowBytes = rowBytes, C = c, Ldc = ldc, Beta = beta,
            GroupBytes = groupBytes,
            X = QuantizedGemv.QuantizeRows(type, a, lda, m, k),
            GroupsPerTask = (int)Math.Clamp(PanelBudget / groupBytes, 1, groups),
        };
        // Enough tasks for a thread slowed by a busy core to hand work to the other.
        int minTasks = 4 * WorkerPool.Concurrency;
        if ((groups + job.GroupsPerTask - 1) / job.GroupsPerTask < minTasks) job.GroupsPerTask = Math.Max(1, (groups + minTasks - 1) / minTasks);
        WorkerPool.ParallelFor((groups + job.GroupsPerTask - 1) / job.GroupsPerTask, job, static (j, t) => RunTask(j, t));
    }

    private struct Job
    {
        public KernelPath Path;
        public DType Type;
        public int M, N, K, Ldc, GroupsPerTask;
        public long RowBytes, GroupBytes;
        public byte* W;
        public float* C;
        public float Beta;
        public QuantizedGemv.Activation X;
    }

    /// <summary>Per-thread panel buffer, grown to the largest task seen.</summary>
    private sealed class PanelBuffer
    {
        [ThreadStatic] private static PanelBuffer? t_current;
        private long _capacity;
        private byte* _data;

        public static byte* For(long bytes)
        {
            var b = t_current ??= new PanelBuffer();
            if (b._capacity < bytes)
            {
                NativeMemory.AlignedFree(b._data);
                b._data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                b._capacity = bytes;
            }
            return b._data;
        }

        ~PanelBuffer() => NativeMemory.AlignedFree(_data);
    }

    private static void RunTask(in Job j, int task)
    {
        int firstGroup = task * j.GroupsPerTask;
        int groupCount = Math.Min(j.GroupsPerTask, (j.N + GroupRows - 1) / GroupRows - firstGroup);
        byte* panel = PanelBuffer.For(groupCount * j.GroupBytes);
        for (int g = 0; g < groupCount; g++)
        {
            int row = (firstGroup + g) * GroupRows;
            Pack(j.Type, j.W + row * j.RowBytes, j.RowBytes, Math.Min(GroupRows, j.N - row), j.K, panel + g * j.GroupBytes);
        }
        var tokens = stackalloc QuantizedGemv.Activation[TileTokens];
        float* lanes = stackalloc float[TileTokens * 16];
        for (int t0 = 0; t0 < j.M; t0 += TileTokens)
        {
            int count = Math.Min(TileTokens, j.M - t0);
            // A short last tile repeats its last row; only the real rows are stored.
            for (int t = 0; t < TileTokens; t++) tokens[t] = j.X.Row(t0 + Math.Min(t, count - 1));
            for (int g = 0; g < groupCount; g++)
            {
                Tile(j.Path, j.Type, panel + g * j.GroupBytes, j.K / UnitValues(j.Type), tokens, lanes);
                int row = (firstGroup + g) * GroupRows, rows = Math.Min(GroupRows, j.N - row);
                for (int t = 0; t < count; t++) StoreRows(lanes + 16 * t, j.C + (long)(t0 + t) * j.Ldc + row, rows, j.Beta);
            }
        }
    }

    /// <summary>y[r] = lanes[2r] + lanes[2r + 1] (+ beta·y[r]) for the group's <paramref name="rows"/> rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRows(float* lanes, float* y, int rows, float beta)
    {
        if (rows == GroupRows && beta == 0f && Avx2.IsSupported)
        {
            // Pairwise sums come out as rows 0, 1, 4, 5, 2, 3, 6, 7; one permute puts them in order.
            var sums = Avx.HorizontalAdd(Avx.LoadVector256(lanes), Avx.LoadVector256(lanes + 8));
            Avx.Store(y, Avx2.PermuteVar8x32(sums, Vector256.Create(0, 1, 4, 5, 2, 3, 6, 7)));
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            float dot = lanes[2 * r] + lanes[2 * r + 1];
            y[r] = beta == 0f ? dot : dot + beta * y[r];
        }
    }

    /// <summary>
    /// One row group's panel of <paramref name="units"/> units against four activation rows: for token t and row r,
    /// lanes[16t + 2r] and lanes[16t + 2r + 1] hold the two halves of the dot product (values 8c..8c+3 and 8c+4..8c+7
    /// of every record c).
    /// </summary>
    internal static void Tile(KernelPath path, DType type, byte* panel, int units, QuantizedGemv.Activation* tokens, float* lanes)
    {
        if (path == KernelPath.Avx512) TileSimd<Wide, Vector512<byte>>(type, panel, units, tokens, lanes);
        else if (path == KernelPath.Avx2)
        {
            // Rows 0–3 fill the lower 32 bytes of every record (and floats 0–7 of every factor record), rows 4–7 the
            // upper: two passes of four rows.
            float* half = stackalloc float[TileTokens * 8];
            for (int h = 0; h < 2; h++)
            {
                TileSimd<Narrow, Vector256<byte>>(type, panel + 32 * h, units, tokens, half);
                for (int t = 0; t < TileTokens; t++) new Span<float>(half + 8 * t, 8).CopyTo(new Span<float>(lanes + 16 * t + 8 * h, 8));
            }
        }
        else if (type == DType.Q8_0) TileQ8_0Scalar(panel, units, tokens, lanes);
        else TileScalar(panel, units, GroupValues(type), tokens, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileSimd<TW, TV>(DType type, byte* panel, int units, QuantizedGemv.Activation* tokens, float* lanes)
        where TW : struct, IWidth<TV> where TV : struct
    {
        if (type == DType.Q8_0) TileQ8_0Simd<TW, TV>(panel, units, tokens, lanes);
        else TileKSimd<TW, TV>(panel, units, GroupValues(type), tokens, lanes);
    }

    // ---- Packing ----

    /// <summary>
    /// Rows [0, <paramref name="rows"/>) of the group at <paramref name="w"/> (rows <paramref name="rowBytes"/> apart)
    /// into the panel layout; missing rows of a last group are zero (they add nothing and are never stored).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pack(DType type, byte* w, long rowBytes, int rows, int k, byte* panel)
    {
        if (type == DType.Q8_0)
        {
            PackQ8_0(w, rowBytes, rows, k, panel);
            return;
        }
        int groupValues = GroupValues(type), groups = BlockQuantization.QKK / groupValues;
        var (coefficientsAt, factorsAt, sbBytes) = Layout(groupValues);
        int blockBytes = type.BlockBytes();
        // Row r's levels of one super-block at levels[256r]; rows past the last stay zero.
        byte* levels = stackalloc byte[GroupRows * BlockQuantization.QKK];
        if (rows < GroupRows) new Span<byte>(levels, GroupRows * BlockQuantization.QKK).Clear();
        short* scales = stackalloc short[16];
        short* coefficients = stackalloc short[16];
        for (int sb = 0; sb < k / BlockQuantization.QKK; sb++)
        {
            byte* record = panel + (long)sb * sbBytes;
            if (rows < GroupRows) new Span<byte>(record, sbBytes).Clear();
            ulong* scaleRecords = (ulong*)(record + LevelBytes);
            ulong* coefficientRecords = (ulong*)(record + coefficientsAt);
            float* factors = (float*)(record + factorsAt);
            for (int r = 0; r < rows; r++)
            {
                byte* block = w + r * rowBytes + (long)sb * blockBytes;
                (float d, float offset) = Unpack(type, block, levels + BlockQuantization.QKK * r, scales, coefficients);
                // The group's scale in all four int16 lanes of the row's 8-byte slot.
                for (int g = 0; g < groups; g++) scaleRecords[8 * g + r] = (ushort)scales[g] * 0x0001_0001_0001_0001UL;
                for (int v = 0; v < groups / 4; v++) coefficientRecords[8 * v + r] = ((ulong*)coefficients)[v];
                factors[2 * r] = factors[2 * r + 1] = d;
                factors[16 + 2 * r] = factors[16 + 2 * r + 1] = offset;
            }
            Interleave(levels, BlockQuantization.QKK / 8, record, 256);
        }
    }

    /// <summary>
    /// Q8_0 rows as <see cref="Pack"/> lays them out: per block the 4 records of signed levels, then d of row r in
    /// floats 2r and 2r + 1 (converted once here), eight blocks at a time through the interleaving transpose.
    /// </summary>
    private static void PackQ8_0(byte* w, long rowBytes, int rows, int k, byte* panel)
    {
        const int BlocksPerPass = BlockQuantization.QKK / BlockQuantization.QK;
        int blockBytes = DType.Q8_0.BlockBytes(), blocks = k / BlockQuantization.QK;
        byte* levels = stackalloc byte[GroupRows * BlockQuantization.QKK];
        if (rows < GroupRows) new Span<byte>(levels, GroupRows * BlockQuantization.QKK).Clear();
        for (int b0 = 0; b0 < blocks; b0 += BlocksPerPass)
        {
            int count = Math.Min(BlocksPerPass, blocks - b0);
            for (int b = b0; b < b0 + count; b++)
            {
                float* factors = (float*)(panel + (long)b * Q8_0BlockBytes + Q8_0LevelBytes);
                for (int r = 0; r < GroupRows; r++)
                {
                    float d = 0f;
                    if (r < rows)
                    {
                        byte* block = w + r * rowBytes + (long)b * blockBytes;
                        d = BlockQuantization.Half(block);
                        Unsafe.CopyBlockUnaligned(levels + BlockQuantization.QKK * r + BlockQuantization.QK * (b - b0), block + 2, BlockQuantization.QK);
                    }
                    factors[2 * r] = factors[2 * r + 1] = d;
                }
            }
            Interleave(levels, 4 * count, panel + (long)b0 * Q8_0BlockBytes, Q8_0BlockBytes);
        }
    }

    /// <summary>
    /// The eight rows' levels (row r at rows[256r]) into <paramref name="count"/> records of 64 bytes: record c holds
    /// values 8c..8c+7 of row r at bytes 8r..8r+7, and records come in runs of four, <paramref name="quadStride"/>
    /// bytes apart (256: contiguous; Q8_0 leaves room for each block's factors). On AVX-512 an 8 × 8 transpose of
    /// 8-byte elements per eight records.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(byte* rows, int count, byte* records, int quadStride)
    {
        const int RowBytes = BlockQuantization.QKK;
        int c0 = 0;
        for (; Avx512F.IsSupported && c0 + 8 <= count; c0 += 8)
        {
            // Pairs of rows interleaved within 128-bit lanes: even[p] lane i holds (row 2p, row 2p+1) of record 2i, odd[p] of record 2i + 1.
            var r0 = Avx512F.LoadVector512((ulong*)(rows + 8 * c0));
            var r1 = Avx512F.LoadVector512((ulong*)(rows + RowBytes + 8 * c0));
            var r2 = Avx512F.LoadVector512((ulong*)(rows + 2 * RowBytes + 8 * c0));
            var r3 = Avx512F.LoadVector512((ulong*)(rows + 3 * RowBytes + 8 * c0));
            var r4 = Avx512F.LoadVector512((ulong*)(rows + 4 * RowBytes + 8 * c0));
            var r5 = Avx512F.LoadVector512((ulong*)(rows + 5 * RowBytes + 8 * c0));
            var r6 = Avx512F.LoadVector512((ulong*)(rows + 6 * RowBytes + 8 * c0));
            var r7 = Avx512F.LoadVector512((ulong*)(rows + 7 * RowBytes + 8 * c0));
            byte* o = records + (long)c0 / 4 * quadStride;
            InterleaveLanes(Avx512F.UnpackLow(r0, r1), Avx512F.UnpackLow(r2, r3), Avx512F.UnpackLow(r4, r5), Avx512F.UnpackLow(r6, r7), o, o + 128, quadStride);
            InterleaveLanes(Avx512F.UnpackHigh(r0, r1), Avx512F.UnpackHigh(r2, r3), Avx512F.UnpackHigh(r4, r5), Avx512F.UnpackHigh(r6, r7), o + 64, o + 192, quadStride);
        }
        for (; c0 < count; c0++)
        for (int r = 0; r < GroupRows; r++) ((ulong*)(records + (long)c0 / 4 * quadStride + c0 % 4 * 64))[r] = ((ulong*)(rows + RowBytes * r))[c0];
    }

    /// <summary>
    /// Lane i of a, b, c, d (rows 0–1, 2–3, 4–5, 6–7 of record 2i, or 2i + 1) into one record each: lanes 0 and 2 go to
    /// <paramref name="first"/> and <paramref name="first"/> + <paramref name="quadStride"/>, lanes 1 and 3 to
    /// <paramref name="second"/> and + <paramref name="quadStride"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InterleaveLanes(Vector512<ulong> a, Vector512<ulong> b, Vector512<ulong> c, Vector512<ulong> d, byte* first, byte* second, int quadStride)
    {
        // vshufi64x2 picks two 128-bit lanes from each operand: 0x44 lanes 0, 1 of both, 0xEE lanes 2, 3; then 0x88 lanes 0, 2 and 0xDD lanes 1, 3.
        Vector512<ulong> ab01 = Avx512F.Shuffle4x128(a, b, 0x44), cd01 = Avx512F.Shuffle4x128(c, d, 0x44);
        Vector512<ulong> ab23 = Avx512F.Shuffle4x128(a, b, 0xEE), cd23 = Avx512F.Shuffle4x128(c, d, 0xEE);
        Avx512F.Store((ulong*)first, Avx512F.Shuffle4x128(ab01, cd01, 0x88));
        Avx512F.Store((ulong*)second, Avx512F.Shuffle4x128(ab01, cd01, 0xDD));
        Avx512F.Store((ulong*)(first + quadStride), Avx512F.Shuffle4x128(ab23, cd23, 0x88));
        Avx512F.Store((ulong*)(second + quadStride), Avx512F.Shuffle4x128(ab23, cd23, 0xDD));
    }

    /// <summary>
    /// One super-block as unsigned levels (value i at levels[i]), integer scales per group, and offset coefficients per
    /// group, with x = d·scale·level − offset·coefficient·(level sum of the group's activations).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float D, float Offset) Unpack(DType type, byte* block, byte* levels, short* scales, short* coefficients)
    {
        var low = Vector256.Create((byte)0x0F);
        if (type == DType.Q6_K)
        {
            // As BlockQuantization's decoder: in each 128-value half, value 32·t + l takes a nibble of ql[l] (t even)
            // or ql[l + 32] (t odd), low for t < 2, and bits 2t..2t+1 of qh[l] as its top two bits.
            var three = Vector256.Create((byte)3);
            for (int half = 0; half < 2; half++)
            {
                Vector256<byte> l0 = Vector256.Load(block + 64 * half), l1 = Vector256.Load(block + 64 * half + 32), h = Vector256.Load(block + 128 + 32 * half);
                byte* o = levels + 128 * half;
                (l0 & low | Vector256.ShiftLeft(h & three, 4)).Store(o);
                (l1 & low | Vector256.ShiftLeft(Vector256.ShiftRightLogical(h, 2) & three, 4)).Store(o + 32);
                (Vector256.ShiftRightLogical(l0, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(h, 4) & three, 4)).Store(o + 64);
                (Vector256.ShiftRightLogical(l1, 4) | Vector256.ShiftLeft(Vector256.ShiftRightLogical(h, 6), 4)).Store(o + 96);
            }
            Vector128<short> sc = Vector128.WidenLower(Vector128.Load((sbyte*)(block + 192))), sc2 = Vector128.WidenUpper(Vector128.Load((sbyte*)(block + 192)));
            sc.Store(scales);
            sc2.Store(scales + 8);
            sc.Store(coefficients);
            sc2.Store(coefficients + 8);
            float d = BlockQuantization.Half(block + 208);
            // x = d·s·(q − 32): the zero point is 32·d per unit of s·(level sum).
            return (d, 32f * d);
        }
        bool fifthBit = type == DType.Q5_K;
        byte* qs = block + (fifthBit ? 48 : 16);
        var qh = fifthBit ? Vector256.Load(block + 16) : default;
        var one = Vector256.Create((byte)1);
        for (int chunk = 0; chunk < 4; chunk++)
        {
            var packed = Vector256.Load(qs + 32 * chunk);
            Vector256<byte> first = packed & low, second = Vector256.ShiftRightLogical(packed, 4);
            if (fifthBit)
            {
                first |= Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2 * chunk) & one, 4);
                second |= Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh, 2 * chunk + 1) & one, 4);
            }
            first.Store(levels + 64 * chunk);
            second.Store(levels + 64 * chunk + 32);
        }
        BlockQuantization.ScalesAndMins(block + 4, out ulong scaleBytes, out ulong minBytes);
        Vector128.WidenLower(Vector128.CreateScalar(scaleBytes).AsByte()).AsInt16().Store(scales);
        Vector128.WidenLower(Vector128.CreateScalar(minBytes).AsByte()).AsInt16().Store(coefficients);
        return (BlockQuantization.Half(block), BlockQuantization.Half(block + 2));
    }

    // ---- Tile kernels ----

    /// <summary>The handful of vector operations the tile kernel needs, at one register width (lanes as the kernel lays them out).</summary>
    private interface IWidth<TV> where TV : struct
    {
        /// <summary>Bytes of one record a register covers (64: all eight rows; 32: four).</summary>
        static abstract int RecordBytes { get; }
        static abstract TV Load(void* p);
        /// <summary>The 8 bytes at <paramref name="p"/> in every 8-byte slot.</summary>
        static abstract TV Broadcast8(void* p);
        static abstract TV Broadcast(float value);
        /// <summary><c>vpmaddubsw</c>: unsigned bytes × signed bytes, adjacent pairs added into int16.</summary>
        static abstract TV MultiplyAddBytes(TV unsignedBytes, TV signedBytes);
        /// <summary><c>vpmaddwd</c>: int16 × int16, adjacent pairs added into int32.</summary>
        static abstract TV MultiplyAddWords(TV a, TV b);
        /// <summary>|s| of signed bytes, as unsigned bytes (|−128| = 128).</summary>
        static abstract TV Magnitudes(TV signedBytes);
        /// <summary>The signed bytes <paramref name="values"/>, negated where <paramref name="signs"/> is negative.</summary>
        static abstract TV WithSignsOf(TV values, TV signs);
        static abstract TV AddInt16(TV a, TV b);
        static abstract TV AddInt32(TV a, TV b);
        static abstract TV ToSingle(TV int32);
        static abstract TV Multiply(TV a, TV b);
        /// <summary>a·b + c, one rounding.</summary>
        static abstract TV MultiplyAdd(TV a, TV b, TV c);
        /// <summary>c − a·b, one rounding.</summary>
        static abstract TV MultiplySubtract(TV a, TV b, TV c);
        static abstract void Store(float* p, TV value);
    }

    private readonly struct Wide : IWidth<Vector512<byte>>
    {
        public static int RecordBytes => 64;
        public static Vector512<byte> Load(void* p) => Avx512F.LoadVector512((byte*)p);
        public static Vector512<byte> Broadcast8(void* p) => Vector512.Create(*(ulong*)p).AsByte();
        public static Vector512<byte> Broadcast(float value) => Vector512.Create(value).AsByte();
        public static Vector512<byte> MultiplyAddBytes(Vector512<byte> u, Vector512<byte> s) => Avx512BW.MultiplyAddAdjacent(u, s.AsSByte()).AsByte();
        public static Vector512<byte> MultiplyAddWords(Vector512<byte> a, Vector512<byte> b) => Avx512BW.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16()).AsByte();
        public static Vector512<byte> Magnitudes(Vector512<byte> s) => Avx512BW.Abs(s.AsSByte());
        // AVX-512 has no vpsignb: a negate under the mask of negative signs (one masked vpsubb).
        public static Vector512<byte> WithSignsOf(Vector512<byte> values, Vector512<byte> signs) =>
            Vector512.ConditionalSelect(Vector512.LessThan(signs.AsSByte(), Vector512<sbyte>.Zero), Vector512<sbyte>.Zero - values.AsSByte(), values.AsSByte()).AsByte();
        public static Vector512<byte> AddInt16(Vector512<byte> a, Vector512<byte> b) => Avx512BW.Add(a.AsInt16(), b.AsInt16()).AsByte();
        public static Vector512<byte> AddInt32(Vector512<byte> a, Vector512<byte> b) => Avx512F.Add(a.AsInt32(), b.AsInt32()).AsByte();
        public static Vector512<byte> ToSingle(Vector512<byte> v) => Avx512F.ConvertToVector512Single(v.AsInt32()).AsByte();
        public static Vector512<byte> Multiply(Vector512<byte> a, Vector512<byte> b) => Avx512F.Multiply(a.AsSingle(), b.AsSingle()).AsByte();
        public static Vector512<byte> MultiplyAdd(Vector512<byte> a, Vector512<byte> b, Vector512<byte> c) => Avx512F.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).AsByte();
        public static Vector512<byte> MultiplySubtract(Vector512<byte> a, Vector512<byte> b, Vector512<byte> c) => Avx512F.FusedMultiplyAddNegated(a.AsSingle(), b.AsSingle(), c.AsSingle()).AsByte();
        public static void Store(float* p, Vector512<byte> v) => Avx512F.Store(p, v.AsSingle());
    }

    private readonly struct Narrow : IWidth<Vector256<byte>>
    {
        public static int RecordBytes => 32;
        public static Vector256<byte> Load(void* p) => Avx.LoadVector256((byte*)p);
        public static Vector256<byte> Broadcast8(void* p) => Vector256.Create(*(ulong*)p).AsByte();
        public static Vector256<byte> Broadcast(float value) => Vector256.Create(value).AsByte();
        public static Vector256<byte> MultiplyAddBytes(Vector256<byte> u, Vector256<byte> s) => Avx2.MultiplyAddAdjacent(u, s.AsSByte()).AsByte();
        public static Vector256<byte> MultiplyAddWords(Vector256<byte> a, Vector256<byte> b) => Avx2.MultiplyAddAdjacent(a.AsInt16(), b.AsInt16()).AsByte();
        public static Vector256<byte> Magnitudes(Vector256<byte> s) => Avx2.Abs(s.AsSByte());
        public static Vector256<byte> WithSignsOf(Vector256<byte> values, Vector256<byte> signs) => Avx2.Sign(values.AsSByte(), signs.AsSByte()).AsByte();
        public static Vector256<byte> AddInt16(Vector256<byte> a, Vector256<byte> b) => Avx2.Add(a.AsInt16(), b.AsInt16()).AsByte();
        public static Vector256<byte> AddInt32(Vector256<byte> a, Vector256<byte> b) => Avx2.Add(a.AsInt32(), b.AsInt32()).AsByte();
        public static Vector256<byte> ToSingle(Vector256<byte> v) => Avx.ConvertToVector256Single(v.AsInt32()).AsByte();
        public static Vector256<byte> Multiply(Vector256<byte> a, Vector256<byte> b) => Avx.Multiply(a.AsSingle(), b.AsSingle()).AsByte();
        public static Vector256<byte> MultiplyAdd(Vector256<byte> a, Vector256<byte> b, Vector256<byte> c) => Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).AsByte();
        public static Vector256<byte> MultiplySubtract(Vector256<byte> a, Vector256<byte> b, Vector256<byte> c) => Fma.MultiplyAddNegated(a.AsSingle(), b.AsSingle(), c.AsSingle()).AsByte();
        public static void Store(float* p, Vector256<byte> v) => Avx.Store(p, v.AsSingle());
    }

    /// <summary>
    /// The tile at one register width: per super-block, for each scale group the records' byte products add up in
    /// int16 and meet the group's scales (<c>vpmaddwd</c>) into int32; the offset coefficients meet four activation
    /// level sums per <c>vpmaddwd</c>; then lanes = fma(I·d − Mn·offset, D, lanes) per token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileKSimd<TW, TV>(byte* panel, int superBlocks, int groupValues, QuantizedGemv.Activation* tokens, float* lanes)
        where TW : struct, IWidth<TV> where TV : struct
    {
        int groups = BlockQuantization.QKK / groupValues, chunks = groupValues / 8;
        var (coefficientsAt, factorsAt, sbBytes) = Layout(groupValues);
        QuantizedGemv.Activation x0 = tokens[0], x1 = tokens[1], x2 = tokens[2], x3 = tokens[3];
        short* sums0 = LevelSums(x0, groupValues), sums1 = LevelSums(x1, groupValues), sums2 = LevelSums(x2, groupValues), sums3 = LevelSums(x3, groupValues);
        TV acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int sb = 0; sb < superBlocks; sb++)
        {
            byte* levels = panel + (long)sb * sbBytes, scales = levels + LevelBytes, coefficients = levels + coefficientsAt;
            float* factors = (float*)(levels + factorsAt);
            sbyte* a0 = x0.Q + sb * BlockQuantization.QKK, a1 = x1.Q + sb * BlockQuantization.QKK, a2 = x2.Q + sb * BlockQuantization.QKK, a3 = x3.Q + sb * BlockQuantization.QKK;
            TV i0 = default, i1 = default, i2 = default, i3 = default;
            for (int g = 0; g < groups; g++)
            {
                // Two records at a time (a group has two or four), so no inner loop; integer sums in any order are exact.
                TV w0 = TW.Load(levels), w1 = TW.Load(levels + 64);
                TV p0 = TwoRecords<TW, TV>(w0, w1, a0), p1 = TwoRecords<TW, TV>(w0, w1, a1), p2 = TwoRecords<TW, TV>(w0, w1, a2), p3 = TwoRecords<TW, TV>(w0, w1, a3);
                if (chunks == 4)
                {
                    w0 = TW.Load(levels + 128);
                    w1 = TW.Load(levels + 192);
                    p0 = TW.AddInt16(p0, TwoRecords<TW, TV>(w0, w1, a0 + 16));
                    p1 = TW.AddInt16(p1, TwoRecords<TW, TV>(w0, w1, a1 + 16));
                    p2 = TW.AddInt16(p2, TwoRecords<TW, TV>(w0, w1, a2 + 16));
                    p3 = TW.AddInt16(p3, TwoRecords<TW, TV>(w0, w1, a3 + 16));
                }
                levels += 64 * chunks;
                a0 += groupValues;
                a1 += groupValues;
                a2 += groupValues;
                a3 += groupValues;
                var groupScales = TW.Load(scales + 64 * g);
                i0 = TW.AddInt32(i0, TW.MultiplyAddWords(p0, groupScales));
                i1 = TW.AddInt32(i1, TW.MultiplyAddWords(p1, groupScales));
                i2 = TW.AddInt32(i2, TW.MultiplyAddWords(p2, groupScales));
                i3 = TW.AddInt32(i3, TW.MultiplyAddWords(p3, groupScales));
            }
            TV m0 = default, m1 = default, m2 = default, m3 = default;
            for (int v = 0; v < groups / 4; v++)
            {
                var coefficient = TW.Load(coefficients + 64 * v);
                int at = sb * groups + 4 * v;
                m0 = TW.AddInt32(m0, TW.MultiplyAddWords(coefficient, TW.Broadcast8(sums0 + at)));
                m1 = TW.AddInt32(m1, TW.MultiplyAddWords(coefficient, TW.Broadcast8(sums1 + at)));
                m2 = TW.AddInt32(m2, TW.MultiplyAddWords(coefficient, TW.Broadcast8(sums2 + at)));
                m3 = TW.AddInt32(m3, TW.MultiplyAddWords(coefficient, TW.Broadcast8(sums3 + at)));
            }
            TV d = TW.Load(factors), offset = TW.Load(factors + 16);
            acc0 = SuperBlockEnd<TW, TV>(i0, m0, d, offset, x0.Scale[sb], acc0);
            acc1 = SuperBlockEnd<TW, TV>(i1, m1, d, offset, x1.Scale[sb], acc1);
            acc2 = SuperBlockEnd<TW, TV>(i2, m2, d, offset, x2.Scale[sb], acc2);
            acc3 = SuperBlockEnd<TW, TV>(i3, m3, d, offset, x3.Scale[sb], acc3);
        }
        StoreTokens<TW, TV>(lanes, acc0, acc1, acc2, acc3);
    }

    /// <summary>
    /// The Q8_0 tile at one register width: per block, each record's |w| meets the four tokens' broadcast activations
    /// under w's signs (<c>vpmaddubsw</c>) and widens to int32 at once (<c>vpmaddwd</c> by ones); then
    /// lanes = fma(I, d·D, lanes) per token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileQ8_0Simd<TW, TV>(byte* panel, int blocks, QuantizedGemv.Activation* tokens, float* lanes)
        where TW : struct, IWidth<TV> where TV : struct
    {
        QuantizedGemv.Activation x0 = tokens[0], x1 = tokens[1], x2 = tokens[2], x3 = tokens[3];
        ulong onePerWord = 0x0001_0001_0001_0001UL;
        TV ones = TW.Broadcast8(&onePerWord);
        TV acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* records = panel + (long)b * Q8_0BlockBytes;
            sbyte* a0 = x0.Q + b * BlockQuantization.QK, a1 = x1.Q + b * BlockQuantization.QK, a2 = x2.Q + b * BlockQuantization.QK, a3 = x3.Q + b * BlockQuantization.QK;
            TV i0 = default, i1 = default, i2 = default, i3 = default;
            for (int c = 0; c < 4; c++)
            {
                TV w = TW.Load(records + 64 * c), magnitudes = TW.Magnitudes(w);
                i0 = TW.AddInt32(i0, SignedRecord<TW, TV>(magnitudes, w, a0 + 8 * c, ones));
                i1 = TW.AddInt32(i1, SignedRecord<TW, TV>(magnitudes, w, a1 + 8 * c, ones));
                i2 = TW.AddInt32(i2, SignedRecord<TW, TV>(magnitudes, w, a2 + 8 * c, ones));
                i3 = TW.AddInt32(i3, SignedRecord<TW, TV>(magnitudes, w, a3 + 8 * c, ones));
            }
            TV d = TW.Load(records + Q8_0LevelBytes);
            acc0 = TW.MultiplyAdd(TW.ToSingle(i0), TW.Multiply(d, TW.Broadcast(x0.Scale[b])), acc0);
            acc1 = TW.MultiplyAdd(TW.ToSingle(i1), TW.Multiply(d, TW.Broadcast(x1.Scale[b])), acc1);
            acc2 = TW.MultiplyAdd(TW.ToSingle(i2), TW.Multiply(d, TW.Broadcast(x2.Scale[b])), acc2);
            acc3 = TW.MultiplyAdd(TW.ToSingle(i3), TW.Multiply(d, TW.Broadcast(x3.Scale[b])), acc3);
        }
        StoreTokens<TW, TV>(lanes, acc0, acc1, acc2, acc3);
    }

    /// <summary>The four tokens' lanes, one register each (a register covers <see cref="IWidth{TV}.RecordBytes"/> / 4 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTokens<TW, TV>(float* lanes, TV acc0, TV acc1, TV acc2, TV acc3) where TW : struct, IWidth<TV> where TV : struct
    {
        int stride = TW.RecordBytes / sizeof(float);
        TW.Store(lanes, acc0);
        TW.Store(lanes + stride, acc1);
        TW.Store(lanes + 2 * stride, acc2);
        TW.Store(lanes + 3 * stride, acc3);
    }

    /// <summary>One record's signed levels against the 8 activations at <paramref name="a"/>: int32 sums of four products per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SignedRecord<TW, TV>(TV magnitudes, TV signs, sbyte* a, TV ones) where TW : struct, IWidth<TV> where TV : struct =>
        TW.MultiplyAddWords(TW.MultiplyAddBytes(magnitudes, TW.WithSignsOf(TW.Broadcast8(a), signs)), ones);

    /// <summary>The int16 byte-product sums of two consecutive records against the 16 activations at <paramref name="a"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV TwoRecords<TW, TV>(TV first, TV second, sbyte* a) where TW : struct, IWidth<TV> where TV : struct =>
        TW.AddInt16(TW.MultiplyAddBytes(first, TW.Broadcast8(a)), TW.MultiplyAddBytes(second, TW.Broadcast8(a + 8)));

    /// <summary>acc + D·(I·d − Mn·offset) with I, Mn the super-block's int32 sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SuperBlockEnd<TW, TV>(TV levels, TV offsets, TV d, TV offset, float activationScale, TV acc) where TW : struct, IWidth<TV> where TV : struct =>
        TW.MultiplyAdd(TW.MultiplySubtract(TW.ToSingle(offsets), offset, TW.Multiply(TW.ToSingle(levels), d)), TW.Broadcast(activationScale), acc);

    /// <summary>The activation level sums the offset coefficients meet: per 32 values (Q4_K/Q5_K minimums) or per 16 (Q6_K scales).</summary>
    private static short* LevelSums(in QuantizedGemv.Activation x, int groupValues) => groupValues == 32 ? x.Sum32 : x.Sum16;

    /// <summary>The reference for <see cref="TileQ8_0Simd{TW, TV}"/>: every lane one by one with the same integer sums and fused f32 steps.</summary>
    private static void TileQ8_0Scalar(byte* panel, int blocks, QuantizedGemv.Activation* tokens, float* lanes)
    {
        for (int t = 0; t < TileTokens; t++)
        {
            var x = tokens[t];
            for (int r = 0; r < GroupRows; r++)
            for (int h = 0; h < 2; h++)
            {
                float acc = 0f;
                for (int b = 0; b < blocks; b++)
                {
                    sbyte* records = (sbyte*)(panel + (long)b * Q8_0BlockBytes), a = x.Q + b * BlockQuantization.QK;
                    int dot = 0;
                    for (int c = 0; c < 4; c++)
                    for (int e = 4 * h; e < 4 * h + 4; e++) dot += records[64 * c + 8 * r + e] * a[8 * c + e];
                    acc = MathF.FusedMultiplyAdd(dot, ((float*)(records + Q8_0LevelBytes))[2 * r + h] * x.Scale[b], acc);
                }
                lanes[16 * t + 2 * r + h] = acc;
            }
        }
    }

    /// <summary>
    /// The reference: every lane of <see cref="TileKSimd{TW, TV}"/> computed one by one in the same order (integer sums
    /// are exact, the f32 steps are the same fused operations), so the vector paths must agree bit for bit.
    /// </summary>
    private static void TileScalar(byte* panel, int superBlocks, int groupValues, QuantizedGemv.Activation* tokens, float* lanes)
    {
        int groups = BlockQuantization.QKK / groupValues, chunks = groupValues / 8;
        var (coefficientsAt, factorsAt, sbBytes) = Layout(groupValues);
        for (int t = 0; t < TileTokens; t++)
        {
            var x = tokens[t];
            short* sums = LevelSums(x, groupValues);
            for (int r = 0; r < GroupRows; r++)
            for (int h = 0; h < 2; h++)
            {
                float acc = 0f;
                for (int sb = 0; sb < superBlocks; sb++)
                {
                    byte* record = panel + (long)sb * sbBytes;
                    short* scales = (short*)(record + LevelBytes), coefficients = (short*)(record + coefficientsAt);
                    float* factors = (float*)(record + factorsAt);
                    sbyte* a = x.Q + sb * BlockQuantization.QKK;
                    int levels = 0, offsets = 0;
                    for (int g = 0; g < groups; g++)
                    {
                        int dot = 0;
                        for (int c = g * chunks; c < (g + 1) * chunks; c++)
                        for (int b = 4 * h; b < 4 * h + 4; b++) dot += record[64 * c + 8 * r + b] * a[8 * c + b];
                        levels += scales[32 * g + 4 * r] * dot;
                    }
                    for (int v = 0; v < groups / 4; v++)
                    for (int e = 2 * h; e < 2 * h + 2; e++) offsets += coefficients[32 * v + 4 * r + e] * sums[sb * groups + 4 * v + e];
                    float part = MathF.FusedMultiplyAdd(-(float)offsets, factors[16 + 2 * r + h], (float)levels * factors[2 * r + h]);
                    acc = MathF.FusedMultiplyAdd(part, x.Scale[sb], acc);
                }
                lanes[16 * t + 2 * r + h] = acc;
            }
        }
    }
}

namespace Pinpoint.Engine.Tensors;

/// <summary>Argument checks shared by ops; every message names the op and the shapes involved.</summary>
public static class ShapeCheck
{
    public static void Same(string op, Tensor a, Tensor b)
    {
        if (!a.SameShape(b))
            throw new ArgumentException($"{op}: shape mismatch between {a.Describe()} and {b.Describe()}");
    }

    public static void Rank(string op, Tensor t, int rank)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: expected a rank-{rank} tensor, got {t.Describe()}");
    }

    public static void MinRank(string op, Tensor t, int rank)
    {
        if (t.Rank < rank)
            throw new ArgumentException($"{op}: expected at least rank {rank}, got {t.Describe()}");
    }

    public static void LastDim(string op, Tensor t, int size, string what)
    {
        if (t.Rank == 0 || t.Dim(-1) != size)
            throw new ArgumentException($"{op}: {what} needs last dimension {size}, got {t.Describe()}");
    }

    public static void Float32(string op, Tensor t)
    {
        if (t.DType != DType.F32)
            throw new ArgumentException($"{op}: dtype mismatch: {t.Describe()} is {t.DType}, expected F32");
    }
}

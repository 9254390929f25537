using Pinpoint.Engine.Tensors;

namespace Pinpoint.Tests.Formats;

internal static class FormatTestUtil
{
    /// <summary>A fresh temporary directory, deleted on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("pinpoint-formats-").FullName;
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    public static Tensor Random(Random rng, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    /// <summary>
    /// Hugging Face's q/k row order for a [n_heads·head_dim, cols] weight stored with interleaved RoPE pairs:
    /// view as [n_heads, head_dim/2, 2, cols], swap axes 1 and 2, flatten back.
    /// </summary>
    public static Tensor ToRotateHalf(Tensor w, int heads)
    {
        int rows = w.Dim(0), cols = w.Dim(1);
        return w.View(heads, rows / heads / 2, 2, cols).Transpose(1, 2).Reshape(rows, cols);
    }

    public static float MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.ShapeString, b.ShapeString);
        var x = a.ToArray();
        var y = b.ToArray();
        float max = 0;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, Math.Abs(x[i] - y[i]));
        return max;
    }

    public static void AssertSame(Tensor expected, Tensor actual, float tolerance = 0)
    {
        float diff = MaxAbsDiff(expected, actual);
        Assert.True(diff <= tolerance, $"{actual.Describe()} differs from {expected.Describe()} by {diff}");
    }

    /// <summary>Reads every element of every tensor (faults on unmapped memory would surface here).</summary>
    public static double Touch(Pinpoint.Models.Formats.TensorFile file)
    {
        double sum = 0;
        foreach (var name in file.Names)
            foreach (var v in file[name].ToArray()) sum += v;
        return sum;
    }
}

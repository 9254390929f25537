using System.Security.Cryptography;
using System.Text;
using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Editing;

/// <summary>
/// C = E[k kᵀ] of the keys an MLP output matrix reads (<c>blocks.L.mlp.hook_post</c>), streamed over a corpus in
/// context-length windows (one f32 GEMM Kᵀ·K per window), and cached on disk per model, layer and token count.
/// </summary>
public static class KeyCovariance
{
    public static double[,] Estimate(HookedTransformer model, int layer, IReadOnlyList<int> tokens, Action<int, int>? progress = null)
    {
        int width = model.Config.DMlp, window = model.Config.ContextLength;
        if (tokens.Count == 0) throw new ArgumentException("no corpus tokens for the key covariance");
        var sum = new double[width * width];
        string hook = HookNames.MlpPost(layer);
        int seen = 0;
        for (int start = 0; start < tokens.Count; start += window)
        {
            var ids = tokens.Skip(start).Take(window).ToArray();
            var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), name => name == hook, lastPositionOnly: true);
            var keys = cache[hook].Contiguous().Reshape(ids.Length, width);
            var transposed = Tensor.Zeros(width, ids.Length);
            var k = keys.Span;
            var t = transposed.Span;
            for (int row = 0; row < ids.Length; row++)
                for (int i = 0; i < width; i++) t[i * ids.Length + row] = k[row * width + i];
            var product = Compute.Eager.MatMul(transposed, transposed, transposeB: true).Span;
            for (int i = 0; i < sum.Length; i++) sum[i] += product[i];
            seen += ids.Length;
            progress?.Invoke(seen, tokens.Count);
        }
        var c = new double[width, width];
        for (int i = 0; i < width; i++)
            for (int j = 0; j < width; j++) c[i, j] = sum[i * width + j] / seen;
        return c;
    }

    /// <summary>C from the cache folder when this model, layer and corpus prefix were seen before; else computed and stored.</summary>
    public static double[,] Cached(LoadedModel loaded, int layer, IReadOnlyList<int> tokens, string cacheFolder, Action<int, int>? progress = null)
    {
        int width = loaded.Model.Config.DMlp;
        var file = Path.Combine(cacheFolder, $"{Key(loaded, tokens)}-layer{layer}-{tokens.Count}.f64");
        if (File.Exists(file) && new FileInfo(file).Length == (long)width * width * 8)
        {
            var bytes = File.ReadAllBytes(file);
            var cached = new double[width, width];
            Buffer.BlockCopy(bytes, 0, cached, 0, bytes.Length);
            return cached;
        }
        var c = Estimate(loaded.Model, layer, tokens, progress);
        Directory.CreateDirectory(cacheFolder);
        var data = new byte[(long)width * width * 8];
        Buffer.BlockCopy(c, 0, data, 0, data.Length);
        Pinpoint.Models.Formats.AtomicFile.Write(file, s => s.Write(data));
        return c;
    }

    /// <summary>The default cache folder: $XDG_CACHE_HOME/pinpoint/covariance, else ~/.cache/pinpoint/covariance.</summary>
    public static string DefaultCacheFolder =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "pinpoint", "covariance");

    /// <summary>Names the model (a hash of its weight files' bytes) and the corpus tokens.</summary>
    private static string Key(LoadedModel loaded, IReadOnlyList<int> tokens)
    {
        using var sha = SHA256.Create();
        var weights = Directory.Exists(loaded.Path)
            ? Directory.EnumerateFiles(loaded.Path, "*.safetensors").Order(StringComparer.Ordinal).ToList()
            : [loaded.Path];
        foreach (var f in weights)
        {
            var bytes = SHA256.HashData(File.ReadAllBytes(f));
            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
        }
        var corpus = Encoding.UTF8.GetBytes(string.Join(",", tokens));
        sha.TransformFinalBlock(corpus, 0, corpus.Length);
        return Convert.ToHexString(sha.Hash!)[..16].ToLowerInvariant();
    }
}

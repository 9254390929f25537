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
    /// <summary>C for each of <paramref name="layers"/>, from one pass over the corpus.</summary>
    /// <param name="window">Tokens per forward (default and at most the context length): short windows weigh the keys of early positions, where short prompts put their subjects, as often as those prompts do.</param>
    public static Dictionary<int, double[,]> Estimate(HookedTransformer model, IReadOnlyList<int> layers, IReadOnlyList<int> tokens, Action<int, int>? progress = null, int? window = null)
    {
        int width = model.Config.DMlp;
        int span = Window(model, window);
        if (tokens.Count == 0) throw new ArgumentException("no corpus tokens for the key covariance");
        var hooks = layers.ToDictionary(l => l, HookNames.MlpPost);
        var sums = layers.ToDictionary(l => l, _ => new double[width * width]);
        int seen = 0;
        for (int start = 0; start < tokens.Count; start += span)
        {
            var ids = tokens.Skip(start).Take(span).ToArray();
            var (_, cache) = model.RunWithCache(TokenBatch.Single(ids), hooks.ContainsValue, lastPositionOnly: true);
            foreach (var (layer, hook) in hooks)
            {
                var keys = cache[hook].Contiguous().Span;
                var transposed = Tensor.Zeros(width, ids.Length);
                var t = transposed.Span;
                for (int row = 0; row < ids.Length; row++)
                    for (int i = 0; i < width; i++) t[i * ids.Length + row] = keys[row * width + i];
                var product = Compute.Eager.MatMul(transposed, transposed, transposeB: true).Span;
                var sum = sums[layer];
                for (int i = 0; i < sum.Length; i++) sum[i] += product[i];
            }
            seen += ids.Length;
            progress?.Invoke(seen, tokens.Count);
        }
        return sums.ToDictionary(p => p.Key, p =>
        {
            var c = new double[width, width];
            for (int i = 0; i < width; i++)
                for (int j = 0; j < width; j++) c[i, j] = p.Value[i * width + j] / seen;
            return c;
        });
    }

    /// <summary>C per layer from the cache folder when this model, layer and corpus prefix were seen before; the others computed (in one pass) and stored.</summary>
    public static Dictionary<int, double[,]> Cached(LoadedModel loaded, IReadOnlyList<int> layers, IReadOnlyList<int> tokens, string cacheFolder, Action<int, int>? progress = null, int? window = null)
    {
        int width = loaded.Model.Config.DMlp, span = Window(loaded.Model, window);
        string key = Key(loaded, tokens);
        // Files of full-context windows keep their old names.
        string File(int layer) => Path.Combine(cacheFolder, $"{key}-layer{layer}-{tokens.Count}{(span == loaded.Model.Config.ContextLength ? "" : $"-window{span}")}.f64");
        var result = new Dictionary<int, double[,]>();
        foreach (var layer in layers.Distinct())
        {
            var file = File(layer);
            if (!System.IO.File.Exists(file) || new FileInfo(file).Length != (long)width * width * 8) continue;
            var bytes = System.IO.File.ReadAllBytes(file);
            var cached = new double[width, width];
            Buffer.BlockCopy(bytes, 0, cached, 0, bytes.Length);
            result[layer] = cached;
        }
        var missing = layers.Distinct().Where(l => !result.ContainsKey(l)).ToList();
        if (missing.Count == 0) return result;
        Directory.CreateDirectory(cacheFolder);
        foreach (var (layer, c) in Estimate(loaded.Model, missing, tokens, progress, span))
        {
            var data = new byte[(long)width * width * 8];
            Buffer.BlockCopy(c, 0, data, 0, data.Length);
            Pinpoint.Models.Formats.AtomicFile.Write(File(layer), s => s.Write(data));
            result[layer] = c;
        }
        return result;
    }

    private static int Window(HookedTransformer model, int? window) =>
        window is null ? model.Config.ContextLength
        : window >= 1 && window <= model.Config.ContextLength ? window.Value
        : throw new ArgumentException($"the covariance window must be 1..{model.Config.ContextLength} tokens, not {window}");

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

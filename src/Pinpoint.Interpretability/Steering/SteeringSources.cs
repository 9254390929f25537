using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Steering;

/// <summary>Where steering directions come from: activation differences of prompts, or a vector saved in a file.</summary>
public static class SteeringSources
{
    /// <summary>
    /// ActAdd (Turner et al., 2023): the activation of <paramref name="plus"/> minus that of <paramref name="minus"/> at
    /// <paramref name="hook"/>, each taken at its prompt's last token (where the whole prompt has been read).
    /// </summary>
    public static float[] ActAdd(LoadedModel model, string hook, string plus, string minus) =>
        Difference(LastTokenActivation(model, hook, plus), LastTokenActivation(model, hook, minus));

    /// <summary>
    /// Contrastive activation addition (Rimsky et al., 2024): the mean over the pairs of positive − negative
    /// last-token activations at <paramref name="hook"/>.
    /// </summary>
    public static float[] MeanDifference(LoadedModel model, string hook, IReadOnlyList<ContrastivePair> pairs)
    {
        if (pairs.Count == 0) throw new ArgumentException("no contrastive pairs");
        var sum = new double[SteeringVector.HookWidth(hook, model.Model.Config) ?? 0];
        foreach (var pair in pairs)
        {
            try
            {
                var diff = Difference(LastTokenActivation(model, hook, pair.Positive), LastTokenActivation(model, hook, pair.Negative));
                for (int i = 0; i < sum.Length; i++) sum[i] += diff[i];
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{pair.Source}: {e.Message}", e);
            }
        }
        return sum.Select(v => (float)(v / pairs.Count)).ToArray();
    }

    /// <summary>
    /// A vector saved as a tensor in a safetensors (or GGUF) file — a probe direction, an SAE feature's decoder row:
    /// a 1-D tensor, or row <paramref name="row"/> of a 2-D one (a 2-D tensor of one row needs no index).
    /// </summary>
    public static float[] FromFile(string path, string tensorName, int? row)
    {
        using var file = TensorFile.Open(path);
        if (!file.TryGetTensor(tensorName, out var tensor))
            throw new ArgumentException($"{path}: no tensor '{tensorName}' (tensors: {string.Join(", ", file.Names.Take(10))}{(file.Names.Count > 10 ? ", ..." : "")})");
        if (tensor.Rank == 1)
        {
            if (row is not null) throw new ArgumentException($"{path}: tensor '{tensorName}' {tensor.ShapeString} is one vector; drop row=");
            return tensor.ToArray();
        }
        if (tensor.Rank != 2) throw new ArgumentException($"{path}: tensor '{tensorName}' {tensor.ShapeString} is neither a vector nor a matrix of row vectors");
        int index = row ?? (tensor.Dim(0) == 1 ? 0 : throw new ArgumentException($"{path}: tensor '{tensorName}' {tensor.ShapeString} has {tensor.Dim(0)} rows; say which with row=I"));
        if (index < 0 || index >= tensor.Dim(0)) throw new ArgumentException($"{path}: row {index} is outside tensor '{tensorName}' {tensor.ShapeString}");
        return tensor.Slice(0, index, 1).ToArray();
    }

    /// <summary>The activation at <paramref name="hook"/> of the last token of <paramref name="text"/>, flattened.</summary>
    public static float[] LastTokenActivation(LoadedModel model, string hook, string text)
    {
        SteeringVector.CheckFits(hook, SteeringVector.HookWidth(hook, model.Model.Config) ?? -1, model.Model.Config);
        var ids = model.Encode(text);
        var (_, cache) = model.Model.RunWithCache(TokenBatch.Single(ids), name => name == hook, lastPositionOnly: true);
        var all = cache[hook].ToArray();
        int width = all.Length / ids.Length;
        return all.AsSpan(all.Length - width).ToArray();
    }

    private static float[] Difference(float[] a, float[] b) => a.Select((v, i) => v - b[i]).ToArray();
}

using Pinpoint.Engine.Tensors;

namespace Pinpoint.Models.Formats;

/// <summary>The quantization mixes <see cref="GgufQuantizer"/> writes, named as llama.cpp names its file types.</summary>
public enum QuantizationScheme
{
    /// <summary>Every matrix Q8_0 (llama.cpp file type 7).</summary>
    Q8_0,
    /// <summary>
    /// llama.cpp's Q4_K_M mix (file type 15): Q4_K matrices, with Q6_K for the output projection (the token
    /// embedding when it is tied) and for attn_v and ffn_down in the first and last eighth of the layers and every
    /// third layer between.
    /// </summary>
    Q4_K_M,
}

/// <summary>
/// Rewrites a GGUF file with its matrices quantized (metadata and tokenizer kept, <c>general.file_type</c> set).
/// Vectors (norms, biases) stay F32, as in llama.cpp; a matrix whose rows are not whole blocks of its type falls
/// back to Q8_0 where 32 divides them, else F32.
/// </summary>
public static class GgufQuantizer
{
    public static void Write(TensorFile source, string path, QuantizationScheme scheme)
    {
        var metadata = source.Metadata
            .Where(kv => kv.Key is not ("general.file_type" or "general.quantization_version"))
            .Append(new("general.file_type", MetadataValue.From(FileType(scheme))))
            .Append(new("general.quantization_version", MetadataValue.From(2u)));
        int layers = source.Names.Count(n => n.StartsWith("blk.", StringComparison.Ordinal) && n.EndsWith(".attn_norm.weight", StringComparison.Ordinal));
        bool tied = !source.TryGetTensor("output.weight", out _);
        GgufWriter.Write(path, metadata, source.Names.Select(n => new GgufTensorData(n, source[n], TypeFor(n, source[n], scheme, layers, tied))));
    }

    public static uint FileType(QuantizationScheme scheme) => scheme == QuantizationScheme.Q8_0 ? 7u : 15u;

    /// <summary>The type <paramref name="name"/> is stored as under <paramref name="scheme"/>.</summary>
    public static GgmlType TypeFor(string name, Tensor tensor, QuantizationScheme scheme, int layers, bool tiedEmbedding)
    {
        if (tensor.Rank < 2) return GgmlType.F32;
        var wanted = scheme == QuantizationScheme.Q8_0 ? GgmlType.Q8_0 : KQuantFor(name, layers, tiedEmbedding);
        int row = tensor.Dim(-1);
        if (row % GgufQuantization.ToDType(wanted).BlockElements() == 0) return wanted;
        return row % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F32;
    }

    private static GgmlType KQuantFor(string name, int layers, bool tiedEmbedding)
    {
        if (name == "output.weight" || (tiedEmbedding && name == "token_embd.weight")) return GgmlType.Q6_K;
        if (name.EndsWith(".attn_v.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal))
        {
            var parts = name.Split('.');
            if (parts.Length > 1 && int.TryParse(parts[1], out int layer) && MoreBits(layer, layers)) return GgmlType.Q6_K;
        }
        return GgmlType.Q4_K;
    }

    /// <summary>llama.cpp's choice of layers that keep more bits in its *_M mixes.</summary>
    private static bool MoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
}

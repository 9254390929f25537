using System.Text.Encodings.Web;
using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>Writes a model as a standard Hugging Face folder: config.json, model.safetensors, tokenizer.json and tokenizer_config.json.</summary>
public static class HfCheckpoint
{
    public static void Write(string directory, ITrainableArchitecture architecture, TransformerConfig config, TransformerWeights weights,
        string? tokenizerJson, DType storeAs)
    {
        Directory.CreateDirectory(directory);
        var tensors = architecture.HfTensors(config, weights).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"),
            tensors.Select(p => KeyValuePair.Create(p.Name, p.Tensor)), new Dictionary<string, string> { ["format"] = "pt" }, storeAs);
        var fields = architecture.HfConfigFields(config);
        fields["torch_dtype"] = storeAs switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" };
        // lm_head.weight is Hugging Face's name for an unembedding of its own, in every architecture.
        fields["tie_word_embeddings"] = tensors.All(p => p.Name != "lm_head.weight");
        AtomicFile.Write(Path.Combine(directory, "config.json"),
            s => JsonSerializer.Serialize(s, fields, new JsonSerializerOptions { WriteIndented = true }));
        if (tokenizerJson is null) return;
        CopyUnlessSame(tokenizerJson, Path.Combine(directory, "tokenizer.json"));
        // A source folder's own tokenizer_config.json keeps its BOS rules; a bare tokenizer.json gets one of ours.
        var sourceConfig = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJson))!, "tokenizer_config.json");
        if (File.Exists(sourceConfig)) CopyUnlessSame(sourceConfig, Path.Combine(directory, "tokenizer_config.json"));
        else WriteTokenizerConfig(directory, tokenizerJson, config);
    }

    /// <summary>
    /// <c>lm_head.weight</c> when the unembedding is not the embedding (e.g. after weight orthogonalisation changed only
    /// the embedding); nothing when tied. Only a bias-free [vocab, d_model] unembedding can be written this way.
    /// </summary>
    public static IEnumerable<(string Name, Tensor Tensor)> UntiedUnembedding(TransformerWeights weights, string architecture)
    {
        var u = weights.Unembed;
        if (weights.UnembedIsTied) yield break;
        if (!u.OutIn || u.Bias is not null)
            throw new ModelConfigException($"{architecture} export needs a tied unembedding or a bias-free [vocab, d_model] one");
        yield return ("lm_head.weight", u.Weight);
    }

    private static void CopyUnlessSame(string source, string destination)
    {
        if (Path.GetFullPath(source) != Path.GetFullPath(destination))
            AtomicFile.Write(destination, s => { using var f = File.OpenRead(source); f.CopyTo(s); });
    }

    /// <summary>
    /// Lets AutoTokenizer load tokenizer.json as it is (PreTrainedTokenizerFast) instead of picking the model type's
    /// own tokenizer class, which would add tokens of its own (LlamaTokenizerFast prepends a BOS the model never saw).
    /// </summary>
    private static void WriteTokenizerConfig(string directory, string tokenizerJson, TransformerConfig config)
    {
        var added = AddedTokens(tokenizerJson);
        string? Special(int? id) => id is { } i && added.TryGetValue(i, out var content) ? content : null;
        var fields = new Dictionary<string, object?>
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["model_max_length"] = config.ContextLength,
            ["bos_token"] = Special(config.BosTokenId),
            ["eos_token"] = Special(config.EosTokenId),
            ["clean_up_tokenization_spaces"] = false,
        };
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"),
            s => JsonSerializer.Serialize(s, fields, new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    /// <summary>The added tokens of a tokenizer.json by id (special tokens are among them).</summary>
    private static Dictionary<int, string> AddedTokens(string tokenizerJson)
    {
        var byId = new Dictionary<int, string>();
        using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        if (!doc.RootElement.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) return byId;
        foreach (var token in added.EnumerateArray())
            if (token.TryGetProperty("id", out var id) && id.TryGetInt32(out int value)
                && token.TryGetProperty("content", out var content) && content.GetString() is { } text)
                byId[value] = text;
        return byId;
    }
}

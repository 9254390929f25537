using System.Text;
using System.Text.Json;
using NativeTokenizer = global::Tokenizers.DotNet.Tokenizer;
using NativeTokenizerException = global::Tokenizers.DotNet.TokenizerException;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c>, encoded by HF's own Rust implementation (Tokenizers.DotNet), so
/// normalizers, pre-tokenizers, added tokens and BPE/Unigram models behave exactly as in Python.
/// The vocabulary is read here for decoding and display.
/// </summary>
public sealed class HfTokenizer : TokenizerBase
{
    private readonly NativeTokenizer native;
    private readonly int[] templatePrefix;
    private readonly int[] templateSuffix;

    private HfTokenizer(string source, NativeTokenizer native, JsonElement json, Layout layout, int? bos, int? eos, bool addsBos, bool decidesBos)
        : base(source, layout.Pieces, bos, eos, addsBos, layout.StripsDummyPrefix)
    {
        this.native = native;
        Json = json;
        DecidesBos = decidesBos;
        templatePrefix = layout.TemplatePrefix;
        templateSuffix = layout.TemplateSuffix;
    }

    /// <summary>
    /// Loads <paramref name="tokenizerJsonPath"/>. BOS/EOS and the default BOS behaviour come from
    /// <c>tokenizer_config.json</c> (<paramref name="tokenizerConfigPath"/>, or the one beside the file when present),
    /// else from the post-processor template.
    /// </summary>
    public static HfTokenizer Load(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        var json = ReadJson(tokenizerJsonPath);
        var configPath = tokenizerConfigPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
        var config = tokenizerConfigPath is not null || File.Exists(configPath) ? ReadJson(configPath) : (JsonElement?)null;
        return Create(tokenizerJsonPath, tokenizerJsonPath, json, config, overrides: null);
    }

    /// <summary>
    /// Whether this file settles BOS for the model, as in Hugging Face: true without tokenizer_config.json, with an
    /// explicit add_bos_token, or with the generic PreTrainedTokenizerFast; a model-specific class (LlamaTokenizer...)
    /// adds BOS by its architecture's convention instead, and so does a caller's override.
    /// </summary>
    public bool DecidesBos { get; }

    /// <summary>The tokenizer.json this tokenizer was made from.</summary>
    internal JsonElement Json { get; }

    /// <summary>BOS/EOS/add-BOS given by the caller instead of tokenizer_config.json (GGUF metadata).</summary>
    internal readonly record struct SpecialOverrides(int? Bos, int? Eos, bool AddBos);

    /// <param name="path">File the native tokenizer loads.</param>
    /// <param name="source">Name used in messages.</param>
    internal static HfTokenizer Create(string path, string source, JsonElement json, JsonElement? config, SpecialOverrides? overrides)
    {
        Layout layout;
        try
        {
            layout = ReadLayout(json);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{source}: not a usable tokenizer.json ({e.Message})", e);
        }

        int? bos, eos;
        bool addsBos, decidesBos;
        if (overrides is { } o)
        {
            (bos, eos, addsBos, decidesBos) = (o.Bos, o.Eos, o.AddBos, false);
        }
        else
        {
            // Without tokenizer_config.json, fall back to the template, then to the usual names of added tokens.
            bos = ConfigTokenId(config, "bos_token", layout)
                  ?? (layout.TemplatePrefix.Length > 0 ? layout.TemplatePrefix[0] : (int?)null)
                  ?? layout.FirstAdded("<s>", "<|begin_of_text|>", "<bos>");
            eos = ConfigTokenId(config, "eos_token", layout)
                  ?? (layout.TemplateSuffix.Length > 0 ? layout.TemplateSuffix[^1] : (int?)null)
                  ?? layout.FirstAdded("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>");
            addsBos = ConfigBool(config, "add_bos_token") ?? layout.TemplatePrefix.Length > 0;
            decidesBos = config is not { } c
                         || ConfigBool(c, "add_bos_token") is not null
                         || (c.TryGetProperty("tokenizer_class", out var cls) && cls.ValueKind == JsonValueKind.String && cls.GetString() == "PreTrainedTokenizerFast");
        }

        NativeTokenizer native;
        try
        {
            native = new NativeTokenizer(path);
        }
        catch (NativeTokenizerException e)
        {
            throw new InvalidDataException($"{source}: Hugging Face tokenizers rejected the file ({e.Message})", e);
        }
        return new HfTokenizer(source, native, json.Clone(), layout, bos, eos, addsBos, decidesBos);
    }

    public override int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bos = addBos ? RequireBos() : 0;
        var raw = native.Encode(text);
        // The native encoder applies the post-processor template; remove its additions so BOS is ours to decide.
        var start = StartsWith(raw, templatePrefix) ? templatePrefix.Length : 0;
        var end = raw.Length - (EndsWith(raw, templateSuffix, start) ? templateSuffix.Length : 0);
        var offset = addBos ? 1 : 0;
        var ids = new int[offset + end - start];
        if (addBos) ids[0] = bos;
        for (var i = start; i < end; i++) ids[offset + i - start] = checked((int)raw[i]);
        return ids;
    }

    public override void Dispose()
    {
        native.Dispose();
        base.Dispose();
    }

    private static bool StartsWith(uint[] raw, int[] prefix)
    {
        if (prefix.Length == 0 || raw.Length < prefix.Length) return false;
        for (var i = 0; i < prefix.Length; i++) if (raw[i] != (uint)prefix[i]) return false;
        return true;
    }

    private static bool EndsWith(uint[] raw, int[] suffix, int start)
    {
        if (suffix.Length == 0 || raw.Length - start < suffix.Length) return false;
        for (var i = 0; i < suffix.Length; i++) if (raw[raw.Length - suffix.Length + i] != (uint)suffix[i]) return false;
        return true;
    }

    private static JsonElement ReadJson(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON ({e.Message})", e);
        }
    }

    private sealed record Layout(TokenPiece[] Pieces, Dictionary<string, int> Added, bool StripsDummyPrefix, int[] TemplatePrefix, int[] TemplateSuffix)
    {
        public int? AddedId(string content) => Added.TryGetValue(content, out var id) ? id : null;

        public int? FirstAdded(params string[] contents) => contents.Select(AddedId).FirstOrDefault(id => id is not null);
    }

    private static Layout ReadLayout(JsonElement json)
    {
        var model = json.GetProperty("model");
        var modelType = model.TryGetProperty("type", out var t) ? t.GetString() : null;
        var byteLevel = HasType(Optional(json, "pre_tokenizer"), "ByteLevel") || HasType(Optional(json, "decoder"), "ByteLevel");
        var byteFallback = (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
                           || HasType(Optional(json, "decoder"), "ByteFallback");

        var raw = new Dictionary<int, string>();
        var vocab = model.GetProperty("vocab");
        if (modelType == "Unigram")
        {
            var i = 0;
            foreach (var entry in vocab.EnumerateArray()) raw[i++] = entry[0].GetString()!;
        }
        else
        {
            foreach (var p in vocab.EnumerateObject()) raw[p.Value.GetInt32()] = p.Name;
        }

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new HashSet<int>();
        if (json.TryGetProperty("added_tokens", out var addedTokens))
        {
            foreach (var a in addedTokens.EnumerateArray())
            {
                var id = a.GetProperty("id").GetInt32();
                var content = a.GetProperty("content").GetString()!;
                raw[id] = content;
                added[content] = id;
                if (a.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True) special.Add(id);
            }
        }
        if (raw.Count == 0) throw new InvalidOperationException("empty vocabulary");

        var pieces = new TokenPiece[raw.Keys.Max() + 1];
        for (var id = 0; id < pieces.Length; id++)
        {
            if (!raw.TryGetValue(id, out var text))
            {
                pieces[id] = new TokenPiece([], "", true); // a hole in the id range: decodes to nothing
                continue;
            }
            var isSpecial = special.Contains(id);
            if (added.TryGetValue(text, out var addedId) && addedId == id)
                pieces[id] = new TokenPiece(Encoding.UTF8.GetBytes(text), text, isSpecial); // added tokens are stored as plain text
            else if (byteLevel)
                pieces[id] = new TokenPiece(ByteLevel.TryDecode(text) ?? Encoding.UTF8.GetBytes(text), text, false);
            else
                pieces[id] = SentencePiecePiece(text, false, byteFallback);
        }

        var (prefix, suffix) = TemplateSpecials(Optional(json, "post_processor"));
        return new Layout(pieces, added, !byteLevel && StripsPrefix(Optional(json, "decoder")), prefix, suffix);
    }

    /// <summary>Whether the decoder removes the leading space (Llama-2's Strip, or Metaspace with a prepended space).</summary>
    private static bool StripsPrefix(JsonElement decoder) =>
        Find(decoder, e => TypeOf(e) switch
        {
            "Strip" => e.TryGetProperty("start", out var s) && s.GetInt32() > 0,
            "Metaspace" => (e.TryGetProperty("prepend_scheme", out var p) && p.GetString() is "first" or "always")
                           || (e.TryGetProperty("add_prefix_space", out var a) && a.ValueKind == JsonValueKind.True),
            _ => false,
        });

    /// <summary>Special tokens a TemplateProcessing post-processor puts before and after a single sequence.</summary>
    private static (int[] Prefix, int[] Suffix) TemplateSpecials(JsonElement postProcessor)
    {
        JsonElement template = default;
        if (!Find(postProcessor, e => { template = e; return TypeOf(e) == "TemplateProcessing"; })) return ([], []);
        var specials = template.GetProperty("special_tokens");
        List<int> prefix = [], suffix = [];
        var seenSequence = false;
        foreach (var item in template.GetProperty("single").EnumerateArray())
        {
            if (item.TryGetProperty("Sequence", out _))
            {
                seenSequence = true;
                continue;
            }
            var name = item.GetProperty("SpecialToken").GetProperty("id").GetString()!;
            var ids = specials.GetProperty(name).GetProperty("ids").EnumerateArray().Select(x => x.GetInt32());
            (seenSequence ? suffix : prefix).AddRange(ids);
        }
        return ([.. prefix], [.. suffix]);
    }

    private static JsonElement Optional(JsonElement e, string key) => e.TryGetProperty(key, out var v) ? v : default;

    private static string? TypeOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) ? t.GetString() : null;

    private static bool HasType(JsonElement e, string type) => Find(e, x => TypeOf(x) == type);

    /// <summary>Depth-first search through a component and its Sequence children.</summary>
    private static bool Find(JsonElement e, Func<JsonElement, bool> predicate)
    {
        if (e.ValueKind != JsonValueKind.Object) return false;
        if (predicate(e)) return true;
        foreach (var key in (string[])["pretokenizers", "decoders", "processors", "normalizers"])
        {
            if (e.TryGetProperty(key, out var children) && children.ValueKind == JsonValueKind.Array
                && children.EnumerateArray().Any(c => Find(c, predicate)))
                return true;
        }
        return false;
    }

    private static int? ConfigTokenId(JsonElement? config, string key, Layout layout)
    {
        if (config is not { } c || !c.TryGetProperty(key, out var v)) return null;
        var content = v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var x) => x.GetString(),
            _ => null,
        };
        return content is null ? null : layout.AddedId(content) ?? FindRaw(layout.Pieces, content);
    }

    private static int? FindRaw(TokenPiece[] pieces, string raw)
    {
        var i = Array.FindIndex(pieces, p => p.RawText == raw);
        return i >= 0 ? i : null;
    }

    private static bool? ConfigBool(JsonElement? config, string key) =>
        config is { } c && c.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;
}

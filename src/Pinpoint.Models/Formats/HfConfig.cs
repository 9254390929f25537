using System.Text.Json;

namespace Pinpoint.Models.Formats;

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> that architecture adapters need, parsed with type checks but
/// no interpretation: aliases (GPT-2's <c>n_embd</c> vs <c>hidden_size</c>, the three epsilon spellings, ...)
/// are kept apart. A field that is absent or JSON null is null here. <see cref="Raw"/> keeps the whole document
/// for fields not listed.
/// </summary>
public sealed record HfConfig
{
    public required string Path { get; init; }
    public required JsonElement Raw { get; init; }

    public string? ModelType { get; init; }
    public string[]? Architectures { get; init; }
    public string? TorchDtype { get; init; }

    public int? HiddenSize { get; init; }
    public int? NumHiddenLayers { get; init; }
    public int? NumAttentionHeads { get; init; }
    public int? NumKeyValueHeads { get; init; }
    public int? IntermediateSize { get; init; }
    public int? HeadDim { get; init; }
    public int? VocabSize { get; init; }
    public int? MaxPositionEmbeddings { get; init; }

    // GPT-2 spellings.
    public int? NEmbd { get; init; }
    public int? NLayer { get; init; }
    public int? NHead { get; init; }
    public int? NInner { get; init; }
    public int? NPositions { get; init; }
    public int? NCtx { get; init; }

    public double? RmsNormEps { get; init; }
    public double? LayerNormEpsilon { get; init; }
    public double? LayerNormEps { get; init; }

    public double? RopeTheta { get; init; }
    /// <summary>The <c>rope_scaling</c> object, left for adapters to interpret.</summary>
    public JsonElement? RopeScaling { get; init; }
    public double? PartialRotaryFactor { get; init; }
    public double? RotaryPct { get; init; }

    public string? HiddenAct { get; init; }
    public string? ActivationFunction { get; init; }

    public bool? TieWordEmbeddings { get; init; }
    public bool? UseParallelResidual { get; init; }
    public bool? AttentionBias { get; init; }
    public bool? MlpBias { get; init; }

    public int? BosTokenId { get; init; }
    /// <summary><c>eos_token_id</c>, which may be one id or a list.</summary>
    public int[]? EosTokenIds { get; init; }
    public int? PadTokenId { get; init; }

    public static HfConfig Read(string path) => Parse(SafetensorsReader.ParseJsonFile(path), path);

    /// <summary>Parses an already-loaded config; <paramref name="path"/> is used in error messages.</summary>
    public static HfConfig Parse(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "config is not a JSON object");
        var r = new FieldReader(root, path);
        return new HfConfig
        {
            Path = path,
            Raw = root,
            ModelType = r.String("model_type"),
            Architectures = r.StringArray("architectures"),
            TorchDtype = r.String("torch_dtype"),
            HiddenSize = r.Size("hidden_size"),
            NumHiddenLayers = r.Size("num_hidden_layers"),
            NumAttentionHeads = r.Size("num_attention_heads"),
            NumKeyValueHeads = r.Size("num_key_value_heads"),
            IntermediateSize = r.Size("intermediate_size"),
            HeadDim = r.Size("head_dim"),
            VocabSize = r.Size("vocab_size"),
            MaxPositionEmbeddings = r.Size("max_position_embeddings"),
            NEmbd = r.Size("n_embd"),
            NLayer = r.Size("n_layer"),
            NHead = r.Size("n_head"),
            NInner = r.Size("n_inner"),
            NPositions = r.Size("n_positions"),
            NCtx = r.Size("n_ctx"),
            RmsNormEps = r.Number("rms_norm_eps"),
            LayerNormEpsilon = r.Number("layer_norm_epsilon"),
            LayerNormEps = r.Number("layer_norm_eps"),
            RopeTheta = r.Number("rope_theta"),
            RopeScaling = r.Object("rope_scaling"),
            PartialRotaryFactor = r.Number("partial_rotary_factor"),
            RotaryPct = r.Number("rotary_pct"),
            HiddenAct = r.String("hidden_act"),
            ActivationFunction = r.String("activation_function"),
            TieWordEmbeddings = r.Bool("tie_word_embeddings"),
            UseParallelResidual = r.Bool("use_parallel_residual"),
            AttentionBias = r.Bool("attention_bias"),
            MlpBias = r.Bool("mlp_bias"),
            BosTokenId = r.Int("bos_token_id"),
            EosTokenIds = r.IntOrIntArray("eos_token_id"),
            PadTokenId = r.Int("pad_token_id"),
        };
    }

    /// <summary>Typed access to optional top-level fields; a present field of the wrong type is an error.</summary>
    private readonly struct FieldReader(JsonElement root, string path)
    {
        private bool TryGet(string name, out JsonElement value) =>
            root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

        private ModelFormatException Wrong(string name, JsonElement value, string expected) =>
            new(path, $"config field '{name}' is {Describe(value)}, expected {expected}");

        private static string Describe(JsonElement v)
        {
            var text = v.GetRawText();
            return $"{v.ValueKind.ToString().ToLowerInvariant()} {(text.Length > 40 ? text[..40] + "..." : text)}";
        }

        public string? String(string name) => !TryGet(name, out var v) ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString() : throw Wrong(name, v, "a string");

        public bool? Bool(string name) => !TryGet(name, out var v) ? null
            : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(name, v, "true or false");

        public double? Number(string name) => !TryGet(name, out var v) ? null
            : v.ValueKind == JsonValueKind.Number && double.IsFinite(v.GetDouble()) ? v.GetDouble() : throw Wrong(name, v, "a finite number");

        public JsonElement? Object(string name) => !TryGet(name, out var v) ? null
            : v.ValueKind == JsonValueKind.Object ? v : throw Wrong(name, v, "an object");

        public int? Int(string name) => !TryGet(name, out var v) ? null : AsInt(name, v);

        /// <summary>A dimension or count: an integer ≥ 1.</summary>
        public int? Size(string name)
        {
            var value = Int(name);
            return value is null or > 0 ? value : throw new ModelFormatException(path, $"config field '{name}' is {value}, expected a positive integer");
        }

        public int[]? IntOrIntArray(string name)
        {
            if (!TryGet(name, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Array) return [AsInt(name, v)];
            var self = this;
            return v.EnumerateArray().Select(e => self.AsInt(name, e)).ToArray();
        }

        public string[]? StringArray(string name)
        {
            if (!TryGet(name, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw Wrong(name, v, "an array of strings");
            return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
        }

        private int AsInt(string name, JsonElement v) =>
            v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw Wrong(name, v, "an integer");
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;

namespace Pinpoint.Interpretability.Saes;

/// <summary>
/// SAE folders as SAELens writes them (cfg.json, sae_weights.safetensors, sparsity.safetensors) — v6 configs and the
/// older flat ones — plus the transposed layouts of EleutherAI's sparsify (cfg.json + sae.safetensors) and of
/// dictionary_learning (config.json + ae.safetensors). Every problem is a <see cref="ModelFormatException"/> naming
/// the file and the field.
/// </summary>
public static class SaeLensFormat
{
    public const string ConfigFile = "cfg.json";
    public const string WeightsFile = "sae_weights.safetensors";
    public const string SparsityFile = "sparsity.safetensors";
    /// <summary>The SAELens release whose cfg.json layout this writes.</summary>
    public const string SaeLensVersion = "6.5.1";

    /// <summary>
    /// Writes <paramref name="sae"/> into <paramref name="dir"/> in SAELens v6 layout, weights stored as
    /// <paramref name="dtype"/>; <paramref name="logDensity"/> (log10 of each feature's firing rate) goes to sparsity.safetensors.
    /// </summary>
    public static void Write(string dir, Sae sae, float[]? logDensity = null, DType dtype = DType.F32)
    {
        Directory.CreateDirectory(dir);
        var meta = sae.Metadata;
        var cfg = new JsonObject
        {
            ["architecture"] = SaeArchitectureNames.Name(sae.Architecture),
            ["d_in"] = sae.DIn,
            ["d_sae"] = sae.DSae,
            ["dtype"] = dtype switch { DType.BF16 => "bfloat16", DType.F16 => "float16", _ => "float32" },
            ["device"] = "cpu",
            ["apply_b_dec_to_input"] = sae.ApplyBDecToInput,
            ["normalize_activations"] = "none",
            ["reshape_activations"] = "none",
            ["hook_layer"] = meta.HookLayer,
            ["metadata"] = new JsonObject
            {
                ["sae_lens_version"] = SaeLensVersion,
                ["sae_lens_training_version"] = SaeLensVersion,
                ["model_name"] = meta.ModelName,
                ["hook_name"] = meta.HookName,
                ["hook_head_index"] = null,
                ["hook_layer"] = meta.HookLayer,
                ["context_size"] = meta.ContextSize,
                ["prepend_bos"] = meta.PrependBos,
                ["dataset_path"] = meta.DatasetPath,
                ["model_class_name"] = "HookedTransformer",
                ["exclude_special_tokens"] = false,
                ["trained_by"] = "pinpoint",
            },
        };
        if (sae.Architecture == SaeArchitecture.TopK) cfg["k"] = sae.K;
        AtomicFile.Write(Path.Combine(dir, ConfigFile), s => JsonSerializer.Serialize(s, cfg, new JsonSerializerOptions { WriteIndented = true }));

        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("W_enc", Tensor.FromArray(Transpose(sae.EncoderRows, sae.DSae, sae.DIn), sae.DIn, sae.DSae)),
            new("W_dec", Tensor.FromArray(sae.Decoder, sae.DSae, sae.DIn)),
            new("b_enc", Tensor.FromArray(sae.BEnc, sae.DSae)),
            new("b_dec", Tensor.FromArray(sae.BDec, sae.DIn)),
        };
        if (sae.Threshold is not null) tensors.Add(new("threshold", Tensor.FromArray(sae.Threshold, sae.DSae)));
        SafetensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, storeAs: dtype);
        if (logDensity is not null)
            SafetensorsWriter.Write(Path.Combine(dir, SparsityFile), [new("sparsity", Tensor.FromArray(logDensity, sae.DSae))]);
    }

    /// <summary>Reads an SAE folder in any of the supported layouts; <paramref name="path"/> may also name the weights file.</summary>
    public static Sae Read(string path)
    {
        string dir = File.Exists(path) ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
        if (!Directory.Exists(dir)) throw new ModelFormatException(path, "SAE folder not found");
        if (File.Exists(Path.Combine(dir, WeightsFile))) return ReadSaeLens(dir);
        if (File.Exists(Path.Combine(dir, "sae.safetensors"))) return ReadSparsify(dir);
        if (File.Exists(Path.Combine(dir, "ae.safetensors"))) return ReadDictionaryLearning(dir);
        throw new ModelFormatException(dir, $"no SAE weights: expected {WeightsFile} (SAELens), sae.safetensors (sparsify) or ae.safetensors (dictionary_learning)");
    }

    /// <summary>log10 feature densities from sparsity.safetensors, or null when the folder has none.</summary>
    public static float[]? ReadLogDensity(string dir, int dSae)
    {
        var path = Path.Combine(dir, SparsityFile);
        if (!File.Exists(path)) return null;
        using var file = TensorFile.Open(path);
        var t = file.Names.Count == 1 ? file[file.Names[0]] : file["sparsity"];
        if (t.Size != dSae) throw new ModelFormatException(path, $"field 'sparsity' has {t.Size} values, cfg.json says d_sae = {dSae}");
        return t.ToArray();
    }

    private static Sae ReadSaeLens(string dir)
    {
        var cfgPath = Path.Combine(dir, ConfigFile);
        var cfg = Config(cfgPath);
        var meta = cfg["metadata"] as JsonObject;
        // v6 names the architecture and keeps provenance under "metadata"; older configs name the activation
        // function ("activation_fn_str", k in "activation_fn_kwargs") and keep everything at the top level.
        string archName = OptionalString(cfgPath, cfg, "architecture") ?? "standard";
        string? activation = OptionalString(cfgPath, cfg, "activation_fn_str");
        SaeArchitecture arch = (archName, activation) switch
        {
            ("jumprelu", _) => SaeArchitecture.JumpRelu,
            ("topk", _) or (_, "topk") => SaeArchitecture.TopK,
            ("standard", null or "relu") => SaeArchitecture.Standard,
            ("standard", _) => throw new ModelFormatException(cfgPath, $"field 'activation_fn_str': unsupported activation '{activation}' (relu, topk)"),
            _ => throw new ModelFormatException(cfgPath, $"field 'architecture': unknown SAE architecture '{archName}' (standard, topk, jumprelu)"),
        };
        int dIn = RequiredInt(cfgPath, cfg, "d_in"), dSae = RequiredInt(cfgPath, cfg, "d_sae");
        int k = 0;
        if (arch == SaeArchitecture.TopK)
        {
            k = OptionalInt(cfgPath, cfg, "k") ?? (cfg["activation_fn_kwargs"] is JsonObject kw ? OptionalInt(cfgPath, kw, "k", "activation_fn_kwargs.k") : null)
                ?? throw new ModelFormatException(cfgPath, "field 'k': a topk SAE needs k (or activation_fn_kwargs.k)");
            if (k < 1 || k > dSae) throw new ModelFormatException(cfgPath, $"field 'k': {k} is outside [1, d_sae = {dSae}]");
        }
        string norm = OptionalString(cfgPath, cfg, "normalize_activations") ?? "none";
        if (norm is not ("none" or ""))
            throw new ModelFormatException(cfgPath, $"field 'normalize_activations': '{norm}' needs a dataset-dependent scale that is not stored with the weights; only 'none' is supported");
        bool applyBDec = OptionalBool(cfgPath, cfg, "apply_b_dec_to_input") ?? true;

        var weightsPath = Path.Combine(dir, WeightsFile);
        using var file = TensorFile.Open(weightsPath);
        var enc = Matrix(file, "W_enc", dIn, dSae, weightsPath);
        var dec = Matrix(file, "W_dec", dSae, dIn, weightsPath);
        var bEnc = Vector(file, "b_enc", dSae, weightsPath);
        var bDec = Vector(file, "b_dec", dIn, weightsPath);
        float[]? threshold = null;
        if (arch == SaeArchitecture.JumpRelu)
        {
            threshold = file.TryGetTensor("threshold", out _) ? Vector(file, "threshold", dSae, weightsPath)
                : file.TryGetTensor("log_threshold", out _) ? Vector(file, "log_threshold", dSae, weightsPath).Select(MathF.Exp).ToArray()
                : throw new ModelFormatException(weightsPath, "field 'threshold': a jumprelu SAE needs a threshold tensor");
        }
        var sae = new Sae(dIn, dSae, arch, k, applyBDec, Transpose(enc, dIn, dSae), dec, bEnc, bDec, threshold)
        {
            Metadata = new SaeMetadata
            {
                HookName = Str(meta, "hook_name") ?? Str(cfg, "hook_name") ?? Str(cfg, "hook_point")
                    ?? throw new ModelFormatException(cfgPath, "field 'metadata.hook_name': missing (also no 'hook_name' or 'hook_point')"),
                ModelName = Str(meta, "model_name") ?? Str(cfg, "model_name") ?? "",
                ContextSize = Int(meta, "context_size") ?? Int(cfg, "context_size") ?? 128,
                PrependBos = Bool(meta, "prepend_bos") ?? Bool(cfg, "prepend_bos") ?? false,
                DatasetPath = Str(meta, "dataset_path") ?? Str(cfg, "dataset_path") ?? "",
            },
        };
        return CheckFinite(sae, weightsPath);
    }

    /// <summary>sparsify: encoder.weight [d_sae, d_in] (already our row layout), W_dec [d_sae, d_in], TopK after ReLU on x − b_dec.</summary>
    private static Sae ReadSparsify(string dir)
    {
        var cfgPath = Path.Combine(dir, ConfigFile);
        var cfg = File.Exists(cfgPath) ? Config(cfgPath) : new JsonObject();
        var weightsPath = Path.Combine(dir, "sae.safetensors");
        using var file = TensorFile.Open(weightsPath);
        var encoder = file["encoder.weight"];
        if (encoder.Rank != 2) throw new ModelFormatException(weightsPath, $"field 'encoder.weight' must be a matrix, got {encoder.ShapeString}");
        int dSae = encoder.Dim(0), dIn = encoder.Dim(1);
        if (OptionalInt(cfgPath, cfg, "d_in") is int cfgDIn && cfgDIn != dIn)
            throw new ModelFormatException(cfgPath, $"field 'd_in': {cfgDIn}, but encoder.weight is {encoder.ShapeString}");
        if (OptionalInt(cfgPath, cfg, "num_latents") is int latents && latents > 0 && latents != dSae)
            throw new ModelFormatException(cfgPath, $"field 'num_latents': {latents}, but encoder.weight is {encoder.ShapeString}");
        int k = OptionalInt(cfgPath, cfg, "k") ?? throw new ModelFormatException(cfgPath, "field 'k': a sparsify SAE needs k");
        if (k < 1 || k > dSae) throw new ModelFormatException(cfgPath, $"field 'k': {k} is outside [1, {dSae}]");
        var sae = new Sae(dIn, dSae, SaeArchitecture.TopK, k, applyBDecToInput: true,
            Matrix(file, "encoder.weight", dSae, dIn, weightsPath), Matrix(file, "W_dec", dSae, dIn, weightsPath),
            Vector(file, "encoder.bias", dSae, weightsPath), Vector(file, "b_dec", dIn, weightsPath), null)
        {
            Metadata = new SaeMetadata { HookName = Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar)) },
        };
        return CheckFinite(sae, weightsPath);
    }

    /// <summary>dictionary_learning: encoder.weight [d_sae, d_in], decoder.weight [d_in, d_sae] (nn.Linear layouts), bias or b_dec.</summary>
    private static Sae ReadDictionaryLearning(string dir)
    {
        var cfgPath = Path.Combine(dir, "config.json");
        var cfg = File.Exists(cfgPath) ? Config(cfgPath) : new JsonObject();
        var trainer = cfg["trainer"] as JsonObject ?? new JsonObject();
        var weightsPath = Path.Combine(dir, "ae.safetensors");
        using var file = TensorFile.Open(weightsPath);
        var encoder = file["encoder.weight"];
        if (encoder.Rank != 2) throw new ModelFormatException(weightsPath, $"field 'encoder.weight' must be a matrix, got {encoder.ShapeString}");
        int dSae = encoder.Dim(0), dIn = encoder.Dim(1);
        if (OptionalInt(cfgPath, trainer, "activation_dim", "trainer.activation_dim") is int a && a != dIn)
            throw new ModelFormatException(cfgPath, $"field 'trainer.activation_dim': {a}, but encoder.weight is {encoder.ShapeString}");
        if (OptionalInt(cfgPath, trainer, "dict_size", "trainer.dict_size") is int s && s != dSae)
            throw new ModelFormatException(cfgPath, $"field 'trainer.dict_size': {s}, but encoder.weight is {encoder.ShapeString}");
        string bDecName = file.TryGetTensor("b_dec", out _) ? "b_dec" : "bias";
        int? k = file.TryGetTensor("k", out var kTensor) ? (int)kTensor.ToArray()[0] : OptionalInt(cfgPath, trainer, "k", "trainer.k");
        float[]? threshold = file.TryGetTensor("threshold", out var thr) && thr.Size == dSae ? Vector(file, "threshold", dSae, weightsPath) : null;
        var arch = k is not null ? SaeArchitecture.TopK : threshold is not null ? SaeArchitecture.JumpRelu : SaeArchitecture.Standard;
        if (k is int kk && (kk < 1 || kk > dSae)) throw new ModelFormatException(weightsPath, $"field 'k': {kk} is outside [1, {dSae}]");
        var sae = new Sae(dIn, dSae, arch, k ?? 0, applyBDecToInput: true,
            Matrix(file, "encoder.weight", dSae, dIn, weightsPath), Transpose(Matrix(file, "decoder.weight", dIn, dSae, weightsPath), dIn, dSae),
            Vector(file, "encoder.bias", dSae, weightsPath), Vector(file, bDecName, dIn, weightsPath), threshold)
        {
            Metadata = new SaeMetadata
            {
                HookName = Str(trainer, "submodule_name") ?? "",
                ModelName = Str(trainer, "lm_name") ?? "",
            },
        };
        return CheckFinite(sae, weightsPath);
    }

    private static Sae CheckFinite(Sae sae, string weightsPath)
    {
        if (sae.FirstNonFinite() is var (field, index))
            throw new ModelFormatException(weightsPath, $"field '{field}': non-finite value at flat index {index}");
        return sae;
    }

    // ---------------------------------------------------------------- helpers

    public static float[] Transpose(float[] values, int rows, int cols)
    {
        var t = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[c * rows + r] = values[r * cols + c];
        return t;
    }

    private static float[] Matrix(TensorFile file, string name, int rows, int cols, string path)
    {
        var t = file[name];
        if (t.Rank != 2 || t.Dim(0) != rows || t.Dim(1) != cols)
            throw new ModelFormatException(path, $"field '{name}': shape {t.ShapeString}, expected [{rows}, {cols}] from the config");
        return t.ToArray();
    }

    private static float[] Vector(TensorFile file, string name, int length, string path)
    {
        var t = file[name];
        if (t.Size != length || t.Rank > 2 || (t.Rank == 2 && t.Dim(0) != 1))
            throw new ModelFormatException(path, $"field '{name}': shape {t.ShapeString}, expected [{length}] from the config");
        return t.ToArray();
    }

    private static JsonObject Config(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException(path, "not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read: {e.Message}", e);
        }
    }

    private static int RequiredInt(string path, JsonObject cfg, string field) =>
        OptionalInt(path, cfg, field) is int v && v > 0 ? v
            : throw new ModelFormatException(path, $"field '{field}': missing or not a positive integer");

    private static int? OptionalInt(string path, JsonObject cfg, string field, string? shownAs = null)
    {
        var node = cfg[field];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue<long>(out long l) && l is >= int.MinValue and <= int.MaxValue) return (int)l;
        if (node is JsonValue d && d.TryGetValue<double>(out double x) && x == Math.Floor(x) && Math.Abs(x) < int.MaxValue) return (int)x;
        throw new ModelFormatException(path, $"field '{shownAs ?? field}': expected an integer, got {node.ToJsonString()}");
    }

    private static string? OptionalString(string path, JsonObject cfg, string field)
    {
        var node = cfg[field];
        if (node is null) return null;
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new ModelFormatException(path, $"field '{field}': expected a string, got {node.ToJsonString()}");
    }

    private static bool? OptionalBool(string path, JsonObject cfg, string field)
    {
        var node = cfg[field];
        if (node is null) return null;
        return node is JsonValue v && v.TryGetValue<bool>(out var b) ? b
            : throw new ModelFormatException(path, $"field '{field}': expected true or false, got {node.ToJsonString()}");
    }

    // Provenance fields: read leniently (a wrong type reads as absent), since nothing numeric depends on them.
    private static string? Str(JsonObject? o, string field) => o?[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    private static int? Int(JsonObject? o, string field) => o?[field] is JsonValue v && v.TryGetValue<int>(out var i) ? i : null;
    private static bool? Bool(JsonObject? o, string field) => o?[field] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using System.Text.Json;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Lens;

/// <summary>Held-out KL(final ‖ lens) of one stage, in nats per token, for the logit lens and the tuned lens.</summary>
public sealed record LensStageKl(string Stage, string Hook, double LogitLensKl, double TunedLensKl);

/// <summary>What <c>tuned-lens.json</c> records beside the translators: the model's shape, the training run and the held-out KL.</summary>
public sealed record TunedLensInfo(string Format, string Model, int DModel, int NLayers, int VocabSize, string[] Corpus, int Steps,
    long TrainTokens, long HeldOutTokens, LensStageKl[] HeldOut);

/// <summary>
/// Belrose et al.'s tuned lens: per stage (the residual stream before block 0, then after each block but the last) an
/// affine translator h ↦ W·h + b, read through the model's final norm and unembedding like the logit lens. The
/// logit lens is the tuned lens with W = I and b = 0 (how translators start); after the last block both are the
/// model's own output, so it has no translator. Saved as <c>tuned-lens.safetensors</c> (<c>translators.{stage}.weight</c>
/// [d_model, d_model] as [out, in] and <c>.bias</c> [d_model]) plus <c>tuned-lens.json</c> (<see cref="TunedLensInfo"/>).
/// </summary>
public sealed class TunedLens
{
    public const string Format = "pinpoint-tuned-lens/1";
    public const string WeightsFile = "tuned-lens.safetensors", InfoFile = "tuned-lens.json";

    private TunedLens(TransformerConfig config, Tensor[] weights, Tensor[] biases)
    {
        Config = config;
        Weights = weights;
        Biases = biases;
    }

    public TransformerConfig Config { get; }
    /// <summary>Per stage, [d_model, d_model] as [out, in], F32 (leaf tensors the trainer updates in place).</summary>
    public Tensor[] Weights { get; }
    public Tensor[] Biases { get; }
    public int Stages => Weights.Length;

    /// <summary>"embed" for the residual before block 0, else "L{n}" for block n's output.</summary>
    public static string StageName(int stage) => stage == 0 ? "embed" : $"L{stage - 1}";

    /// <summary>The hook each stage reads: hook_resid_pre of block 0, then hook_resid_post of blocks 0 … n−2.</summary>
    public static string StageHook(int stage) => stage == 0 ? HookNames.ResidPre(0) : HookNames.ResidPost(stage - 1);

    /// <summary>Stages with a translator: every residual point but the model's output.</summary>
    public static int StageCount(TransformerConfig config) => config.NLayers;

    /// <summary>MODEL/tuned-lens when the model is a folder holding one (the embedded model ships one), else null.</summary>
    public static string? DefaultFolder(string modelPath)
    {
        var folder = Path.Combine(modelPath, "tuned-lens");
        return File.Exists(Path.Combine(folder, WeightsFile)) ? folder : null;
    }

    /// <summary>The tuned lens in the model's own folder (<see cref="DefaultFolder"/>), or null when it has none.</summary>
    public static TunedLens? OfModel(Models.Loading.LoadedModel loaded) =>
        DefaultFolder(loaded.Path) is { } folder ? Load(folder, loaded.Model.Config) : null;

    /// <summary>The logit lens as a tuned lens: identity translators.</summary>
    public static TunedLens Identity(TransformerConfig config)
    {
        int d = config.DModel, stages = StageCount(config);
        var weights = new Tensor[stages];
        var biases = new Tensor[stages];
        for (int s = 0; s < stages; s++)
        {
            weights[s] = Tensor.Zeros(d, d);
            var w = weights[s].Span;
            for (int i = 0; i < d; i++) w[i * d + i] = 1f;
            biases[s] = Tensor.Zeros(d);
        }
        return new TunedLens(config, weights, biases);
    }

    /// <summary>W·h + b for every row of <paramref name="residuals"/> [rows, d_model].</summary>
    public Tensor Translate(Compute cx, int stage, Tensor residuals) =>
        cx.Add(cx.MatMul(residuals, Weights[stage], transposeB: true), Biases[stage]);

    private static readonly JsonSerializerOptions Indented = new(Reports.ReportJson.Options) { WriteIndented = true };

    /// <summary>
    /// The target − foil difference at the last position read through each stage's translator, then after the last block
    /// (where both lenses are the model's output): the tuned counterpart of <see cref="Explain.LogitLens.Run"/>, from the same cache.
    /// </summary>
    public IReadOnlyList<Explain.LensPoint> LogitDiffs(ActivationCache cache, Explain.LogitDiffReadout readout)
    {
        var points = new List<Explain.LensPoint>();
        for (int s = 0; s < Stages; s++)
        {
            var last = Explain.LogitLens.LastRow(cache[StageHook(s)]);
            var translated = Translate(Compute.Eager, s, Tensor.FromArray(last, 1, last.Length));
            points.Add(new Explain.LensPoint(StageName(s), s - 1, readout.Full(translated.Span)));
        }
        int lastLayer = Config.NLayers - 1;
        points.Add(new Explain.LensPoint($"L{lastLayer}", lastLayer, readout.Full(Explain.LogitLens.LastRow(cache[HookNames.ResidPost(lastLayer)]))));
        return points;
    }

    public void Save(string folder, TunedLensInfo info)
    {
        Directory.CreateDirectory(folder);
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (int s = 0; s < Stages; s++)
        {
            tensors.Add(new($"translators.{StageName(s)}.weight", Weights[s]));
            tensors.Add(new($"translators.{StageName(s)}.bias", Biases[s]));
        }
        SafetensorsWriter.Write(Path.Combine(folder, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = Format });
        File.WriteAllText(Path.Combine(folder, InfoFile), JsonSerializer.Serialize(info, Indented));
    }

    /// <summary>Loads a folder written by <see cref="Save"/>, refusing translators of another model shape.</summary>
    public static TunedLens Load(string folder, TransformerConfig config)
    {
        var path = Path.Combine(folder, WeightsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{folder}: no {WeightsFile} (train one with pinpoint lens train)", path);
        using var file = SafetensorsReader.Open(path);
        if (!file.HasMetadata("format") || file.GetString("format") != Format)
            throw new InvalidDataException($"{path}: not a Pinpoint tuned lens (format metadata {Format} missing)");
        int d = config.DModel, stages = StageCount(config);
        var weights = new Tensor[stages];
        var biases = new Tensor[stages];
        for (int s = 0; s < stages; s++)
        {
            string name = $"translators.{StageName(s)}";
            if (!file.TryGetTensor(name + ".weight", out _))
                throw new InvalidDataException($"{path}: no translator for stage {StageName(s)}; the lens was trained for another model ({stages} stages expected)");
            weights[s] = Read(file, name + ".weight", path, d, d);
            biases[s] = Read(file, name + ".bias", path, d);
        }
        if (file.TryGetTensor($"translators.{StageName(stages)}.weight", out _))
            throw new InvalidDataException($"{path}: has more stages than this model's {stages}; the lens was trained for another model");
        return new TunedLens(config, weights, biases);
    }

    private static Tensor Read(TensorFile file, string name, string path, params int[] shape)
    {
        var t = file[name];
        if (!t.Shape.SequenceEqual(shape))
            throw new InvalidDataException($"{path}: {name} is {t.ShapeString}, this model needs {Tensor.Format(shape)}; the lens was trained for another model");
        return Tensor.FromArray(t.ToArray(), shape);
    }
}

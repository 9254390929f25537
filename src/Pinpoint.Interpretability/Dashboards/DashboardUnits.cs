using Pinpoint.Interpretability.Explain;
using Pinpoint.Interpretability.Saes;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// The units a dashboard describes at one harvested hook: how a harvested row becomes unit activations, and the
/// residual-stream direction each unit writes (for its logit effect).
/// </summary>
public abstract class DashboardUnits
{
    /// <summary>The hook whose activations are harvested.</summary>
    public abstract string Hook { get; }
    public abstract DashboardUnitKind Kind { get; }
    public abstract int Count { get; }
    /// <summary>The SAE's folder, for features.</summary>
    public virtual string? Sae => null;

    /// <summary>Unit activations [rows, Count] of harvested rows [rows, hook width]; may return the input itself.</summary>
    public abstract ReadOnlySpan<float> Activations(float[] harvested, int rows);

    /// <summary>The d_model vector each unit adds to the residual stream per unit of activation, [Count, d_model]; null (with the reason) where there is none.</summary>
    public abstract (float[]? Directions, string? Note) OutputDirections(HookedTransformer model);

    /// <summary>MLP neurons at <c>blocks.{l}.mlp.hook_post</c> (or hook_pre / hook_pre_linear: the same neurons before the nonlinearity).</summary>
    public static DashboardUnits Neurons(HookedTransformer model, string hook) => new NeuronUnits(model, hook);

    /// <summary>The features of <paramref name="sae"/>, encoding the activations at the hook it was trained on.</summary>
    public static DashboardUnits Features(Sae sae, string saePath) => new FeatureUnits(sae, saePath);

    private sealed class NeuronUnits : DashboardUnits
    {
        private readonly int _layer;

        public NeuronUnits(HookedTransformer model, string hook)
        {
            var c = model.Config;
            _layer = Enumerable.Range(0, c.NLayers).FirstOrDefault(l =>
                hook == HookNames.MlpPost(l) || hook == HookNames.MlpPre(l) || hook == HookNames.MlpPreLinear(l), -1);
            if (_layer < 0 || model.Weights.Blocks[_layer].Mlp is null)
                throw new ArgumentException($"'{hook}' is not an MLP neuron hook of this model (neurons are read at blocks.*.mlp.hook_post, hook_pre or hook_pre_linear)");
            Hook = hook;
            Count = c.DMlp;
        }

        public override string Hook { get; }
        public override DashboardUnitKind Kind => DashboardUnitKind.Neuron;
        public override int Count { get; }
        public override ReadOnlySpan<float> Activations(float[] harvested, int rows) => harvested.AsSpan(0, rows * Count);

        public override (float[]? Directions, string? Note) OutputDirections(HookedTransformer model)
        {
            var output = model.Weights.Blocks[_layer].Mlp!.Out;
            var rows = new float[(long)Count * model.Config.DModel];
            for (int n = 0; n < Count; n++) DirectLogitAttribution.NeuronOutput(output, n).CopyTo(rows, n * model.Config.DModel);
            return (rows, null);
        }
    }

    private sealed class FeatureUnits(Sae sae, string saePath) : DashboardUnits
    {
        private float[] _acts = [];

        public override string Hook => sae.Metadata.HookName;
        public override DashboardUnitKind Kind => DashboardUnitKind.Feature;
        public override int Count => sae.DSae;
        public override string? Sae => saePath;

        public override ReadOnlySpan<float> Activations(float[] harvested, int rows)
        {
            if (_acts.Length < rows * sae.DSae) _acts = new float[rows * sae.DSae];
            sae.Encode(harvested, rows, _acts);
            return _acts.AsSpan(0, rows * sae.DSae);
        }

        public override (float[]? Directions, string? Note) OutputDirections(HookedTransformer model) =>
            sae.DIn == model.Config.DModel && WritesResidual(Hook)
                ? (sae.Decoder, null)
                : (null, $"{Hook} is not a residual-stream-sized hook, so W_dec has no direct logit effect");

        private static bool WritesResidual(string hook) =>
            hook == HookNames.Embed || hook.EndsWith(".hook_resid_pre", StringComparison.Ordinal) || hook.EndsWith(".hook_resid_mid", StringComparison.Ordinal)
            || hook.EndsWith(".hook_resid_post", StringComparison.Ordinal) || hook.EndsWith(".hook_mlp_out", StringComparison.Ordinal)
            || hook.EndsWith(".hook_attn_out", StringComparison.Ordinal);
    }
}

using Pinpoint.Engine.Autograd;
using Pinpoint.Engine.Ops;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Interpretability.Saes;

/// <summary>
/// Runs an SAE inside the forward pass at its hook, with TransformerLens's (SAELens's HookedSAETransformer) hook
/// names under the hook's own: <c>{hook}.hook_sae_input</c>, <c>.hook_sae_acts_pre</c>, <c>.hook_sae_acts_post</c>,
/// <c>.hook_sae_recons</c>, <c>.hook_sae_error</c>, <c>.hook_sae_output</c>. Each is an ordinary hook point of the
/// <see cref="HookSet"/>, so features can be cached, patched, ablated and (on a tape) differentiated like any
/// other activation. With <c>keepError</c> the output is x̂ + (x − x̂), so the spliced model computes exactly what the
/// clean one does, patched features change it by their decoded difference, and gradients reach the features and the
/// error node while x's own gradient is the clean model's.
/// </summary>
public static class SaeSplice
{
    public const string Input = "hook_sae_input";
    public const string ActsPre = "hook_sae_acts_pre";
    public const string ActsPost = "hook_sae_acts_post";
    public const string Recons = "hook_sae_recons";
    public const string Error = "hook_sae_error";
    public const string Output = "hook_sae_output";

    public static string HookName(Sae sae, string inner) => $"{sae.Metadata.HookName}.{inner}";

    /// <summary>Checks that the model has the SAE's hook, with the SAE's width there.</summary>
    public static void CheckFits(Sae sae, HookedTransformer model, string saePath)
    {
        var hook = sae.Metadata.HookName;
        if (!model.HookNamesInOrder().Contains(hook))
            throw new ArgumentException($"{saePath}: the SAE reads hook '{hook}', which this model does not have");
        int width = HookWidth(model.Config, hook);
        if (width > 0 && width != sae.DIn)
            throw new ArgumentException($"{saePath}: field 'd_in' is {sae.DIn}, but hook '{hook}' of this model is {width} wide");
    }

    /// <summary>The per-token width of a hook (0 when it depends on more than the config's sizes).</summary>
    public static int HookWidth(TransformerConfig c, string hook) =>
        hook.EndsWith("hook_resid_pre") || hook.EndsWith("hook_resid_mid") || hook.EndsWith("hook_resid_post")
        || hook.EndsWith("hook_attn_out") || hook.EndsWith("hook_mlp_out") || hook is HookNames.Embed or HookNames.PosEmbed ? c.DModel
        : hook.EndsWith("mlp.hook_pre") || hook.EndsWith("mlp.hook_post") ? c.DMlp
        : 0;

    /// <summary>Adds the SAE at its hook to <paramref name="hooks"/>; its ops are recorded on <paramref name="cx"/>'s tape.</summary>
    public static HookSet Splice(this HookSet hooks, Sae sae, Compute cx, bool keepError = false)
    {
        var encoder = Tensor.FromArray(sae.EncoderRows, sae.DSae, sae.DIn);
        var decoder = Tensor.FromArray(sae.Decoder, sae.DSae, sae.DIn);
        var bEnc = Tensor.FromArray(sae.BEnc, sae.DSae);
        var bDec = Tensor.FromArray(sae.BDec, sae.DIn);
        string Name(string inner) => HookName(sae, inner);
        hooks.DeclareNested(new[] { Input, ActsPre, ActsPost, Recons, Error, Output }.Select(Name));
        return hooks.Add(sae.Metadata.HookName, (activation, _) =>
        {
            var x = hooks.Apply(Name(Input), activation);
            var pre = cx.Add(cx.MatMul(sae.ApplyBDecToInput ? cx.Sub(x, bDec) : x, encoder, transposeB: true), bEnc);
            pre = hooks.Apply(Name(ActsPre), pre);
            // The activation function as a 0/1 mask on the pre-activations: gradients flow to the features that fire.
            int rows = pre.Size / sae.DSae;
            var mask = cx.Contiguous(pre).Span.ToArray();
            sae.Activate(mask, rows);
            for (int i = 0; i < mask.Length; i++) mask[i] = mask[i] != 0 ? 1f : 0f;
            var acts = cx.Mul(pre, Tensor.FromArray(mask, pre.Shape.ToArray()));
            Tensor? error = null;
            if (keepError)
            {
                // The error is x minus the reconstruction of the features as encoded, so a patch at hook_sae_acts_post
                // moves the output by exactly its decoded change. The features enter the decoder as leaves: gradients
                // reach them, and reach x through the error as the identity, as in the model without the SAE.
                var values = cx.Contiguous(acts).Span.ToArray();
                var encoded = new float[rows * sae.DIn];
                sae.Decode(values, rows, encoded);
                error = cx.Sub(x, Tensor.FromArray(encoded, x.Shape.ToArray()));
                acts = Tensor.FromArray(values, acts.Shape.ToArray());
                acts.RequiresGrad = cx.Tape is not null;
            }
            acts = hooks.Apply(Name(ActsPost), acts);
            var recons = hooks.Apply(Name(Recons), cx.Add(cx.MatMul(acts, decoder), bDec));
            if (error is null) return hooks.Apply(Name(Output), recons);
            return hooks.Apply(Name(Output), cx.Add(recons, hooks.Apply(Name(Error), error)));
        });
    }
}

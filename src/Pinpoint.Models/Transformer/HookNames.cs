namespace Pinpoint.Models.Transformer;

/// <summary>Hook point names, exactly as TransformerLens spells them.</summary>
public static class HookNames
{
    public const string Embed = "hook_embed";
    public const string PosEmbed = "hook_pos_embed";
    public const string FinalScale = "ln_final.hook_scale";
    public const string FinalNormalized = "ln_final.hook_normalized";

    public static string ResidPre(int layer) => $"blocks.{layer}.hook_resid_pre";
    public static string ResidMid(int layer) => $"blocks.{layer}.hook_resid_mid";
    public static string ResidPost(int layer) => $"blocks.{layer}.hook_resid_post";
    public static string Ln1Scale(int layer) => $"blocks.{layer}.ln1.hook_scale";
    public static string Ln1Normalized(int layer) => $"blocks.{layer}.ln1.hook_normalized";
    public static string Ln2Scale(int layer) => $"blocks.{layer}.ln2.hook_scale";
    public static string Ln2Normalized(int layer) => $"blocks.{layer}.ln2.hook_normalized";
    public static string Q(int layer) => $"blocks.{layer}.attn.hook_q";
    public static string K(int layer) => $"blocks.{layer}.attn.hook_k";
    public static string V(int layer) => $"blocks.{layer}.attn.hook_v";
    public static string RotQ(int layer) => $"blocks.{layer}.attn.hook_rot_q";
    public static string RotK(int layer) => $"blocks.{layer}.attn.hook_rot_k";
    public static string AttnScores(int layer) => $"blocks.{layer}.attn.hook_attn_scores";
    public static string Pattern(int layer) => $"blocks.{layer}.attn.hook_pattern";
    public static string Z(int layer) => $"blocks.{layer}.attn.hook_z";
    public static string Result(int layer) => $"blocks.{layer}.attn.hook_result";
    public static string AttnOut(int layer) => $"blocks.{layer}.hook_attn_out";
    public static string MlpPre(int layer) => $"blocks.{layer}.mlp.hook_pre";
    public static string MlpPreLinear(int layer) => $"blocks.{layer}.mlp.hook_pre_linear";
    public static string MlpPost(int layer) => $"blocks.{layer}.mlp.hook_post";
    public static string MlpOut(int layer) => $"blocks.{layer}.hook_mlp_out";

    /// <summary>Every hook point the model has, in forward order.</summary>
    public static IEnumerable<string> All(TransformerConfig config)
    {
        yield return Embed;
        if (config.Positions == PositionKind.Learned) yield return PosEmbed;
        for (int l = 0; l < config.NLayers; l++)
        {
            yield return ResidPre(l);
            yield return Ln1Scale(l);
            yield return Ln1Normalized(l);
            yield return Q(l);
            yield return K(l);
            yield return V(l);
            if (config.Positions == PositionKind.Rotary)
            {
                yield return RotQ(l);
                yield return RotK(l);
            }
            yield return AttnScores(l);
            yield return Pattern(l);
            yield return Z(l);
            yield return Result(l);
            yield return AttnOut(l);
            if (config.AttentionOnly)
            {
                yield return ResidPost(l);
                continue;
            }
            if (!config.ParallelResidual) yield return ResidMid(l);
            yield return Ln2Scale(l);
            yield return Ln2Normalized(l);
            yield return MlpPre(l);
            if (config.GatedMlp) yield return MlpPreLinear(l);
            yield return MlpPost(l);
            yield return MlpOut(l);
            yield return ResidPost(l);
        }
        yield return FinalScale;
        yield return FinalNormalized;
    }
}

using Pinpoint.Engine.Kernels;
using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Architectures;

/// <summary>GPT-2: learned positions, LayerNorm, fused Conv1D q|k|v stored [in, out], GELU (tanh), tied unembedding.</summary>
public sealed class Gpt2Adapter : ITrainableArchitecture
{
    public string Name => "gpt2";
    public IReadOnlyList<string> HfModelTypes { get; } = ["gpt2"];

    public TransformerConfig ConfigFromHf(HfConfig c)
    {
        int d = c.Required(c.NEmbd ?? c.HiddenSize, "n_embd"), heads = c.Required(c.NHead ?? c.NumAttentionHeads, "n_head");
        if (heads <= 0 || d % heads != 0) throw new ModelConfigException($"{c.Path}: n_embd {d} is not divisible by n_head {heads}");
        return new TransformerConfig
        {
            Architecture = Name,
            DModel = d,
            NLayers = c.Required(c.NLayer ?? c.NumHiddenLayers, "n_layer"),
            NHeads = heads,
            NKvHeads = heads,
            DHead = d / heads,
            DMlp = c.NInner ?? 4 * d,
            VocabSize = c.Required(c.VocabSize, "vocab_size"),
            ContextLength = c.Required(c.NPositions ?? c.NCtx ?? c.MaxPositionEmbeddings, "n_positions"),
            Norm = NormKind.LayerNorm,
            NormEps = (float)(c.LayerNormEpsilon ?? 1e-5),
            Positions = PositionKind.Learned,
            Activation = ActivationNames.Parse(c.ActivationFunction ?? "gelu_new", c.Path),
            BosTokenId = c.BosTokenId,
            EosTokenId = c.EosTokenId(),
            AddBos = false,
        };
    }

    public TransformerWeights WeightsFromHf(TransformerConfig config, ITensorSource t)
    {
        string prefix = t.TryGet("transformer.wte.weight") is not null ? "transformer." : "";
        var wte = t.Get(prefix + "wte.weight");
        var blocks = new BlockWeights[config.NLayers];
        for (int l = 0; l < config.NLayers; l++)
        {
            string p = $"{prefix}h.{l}.";
            blocks[l] = new BlockWeights(
                new NormWeights(t.Get(p + "ln_1.weight"), t.Get(p + "ln_1.bias")),
                new AttentionWeights
                {
                    Qkv = new Linear(t.Get(p + "attn.c_attn.weight"), OutIn: false, t.Get(p + "attn.c_attn.bias")),
                    O = new Linear(t.Get(p + "attn.c_proj.weight"), OutIn: false, t.Get(p + "attn.c_proj.bias")),
                },
                new NormWeights(t.Get(p + "ln_2.weight"), t.Get(p + "ln_2.bias")),
                new MlpWeights
                {
                    In = new Linear(t.Get(p + "mlp.c_fc.weight"), OutIn: false, t.Get(p + "mlp.c_fc.bias")),
                    Out = new Linear(t.Get(p + "mlp.c_proj.weight"), OutIn: false, t.Get(p + "mlp.c_proj.bias")),
                });
        }
        return new TransformerWeights
        {
            Embedding = wte,
            PositionEmbedding = t.Get(prefix + "wpe.weight"),
            Blocks = blocks,
            FinalNorm = new NormWeights(t.Get(prefix + "ln_f.weight"), t.Get(prefix + "ln_f.bias")),
            Unembed = new Linear(t.TryGet("lm_head.weight") ?? wte, OutIn: true),
        };
    }

    public TransformerConfig ConfigForTraining(TrainingShape s) => s.Config(Name, usualDMlp: 4 * s.DModel) with
    {
        Norm = NormKind.LayerNorm,
        Positions = PositionKind.Learned,
        Activation = Activation.GeluTanh,
    };

    public TransformerWeights CreateRandom(TransformerConfig c, int seed)
    {
        var init = new WeightInitializer(seed, c.NLayers);
        var blocks = new BlockWeights[c.NLayers];
        for (int l = 0; l < c.NLayers; l++)
        {
            blocks[l] = new BlockWeights(
                new NormWeights(WeightInitializer.Ones(c.DModel), WeightInitializer.Zeros(c.DModel)),
                new AttentionWeights
                {
                    Qkv = new Linear(init.Weight(c.DModel, 3 * c.DModel), OutIn: false, WeightInitializer.Zeros(3 * c.DModel)),
                    O = new Linear(init.ResidualWeight(c.DModel, c.DModel), OutIn: false, WeightInitializer.Zeros(c.DModel)),
                },
                c.AttentionOnly ? null : new NormWeights(WeightInitializer.Ones(c.DModel), WeightInitializer.Zeros(c.DModel)),
                c.AttentionOnly ? null : new MlpWeights
                {
                    In = new Linear(init.Weight(c.DModel, c.DMlp), OutIn: false, WeightInitializer.Zeros(c.DMlp)),
                    Out = new Linear(init.ResidualWeight(c.DMlp, c.DModel), OutIn: false, WeightInitializer.Zeros(c.DModel)),
                });
        }
        var wte = init.Weight(c.VocabSize, c.DModel);
        return new TransformerWeights
        {
            Embedding = wte,
            PositionEmbedding = init.Normal(0.01f, c.ContextLength, c.DModel),
            Blocks = blocks,
            FinalNorm = new NormWeights(WeightInitializer.Ones(c.DModel), WeightInitializer.Zeros(c.DModel)),
            Unembed = new Linear(wte, OutIn: true),
        };
    }

    public Dictionary<string, object> HfConfigFields(TransformerConfig c) => new()
    {
        ["architectures"] = new[] { "GPT2LMHeadModel" },
        ["model_type"] = "gpt2",
        ["n_layer"] = c.NLayers,
        ["n_embd"] = c.DModel,
        ["n_head"] = c.NHeads,
        ["n_inner"] = c.DMlp,
        ["n_positions"] = c.ContextLength,
        ["n_ctx"] = c.ContextLength,
        ["vocab_size"] = c.VocabSize,
        ["layer_norm_epsilon"] = c.NormEps,
        ["activation_function"] = c.Activation switch { Activation.GeluTanh => "gelu_new", Activation.Gelu => "gelu", _ => "silu" },
        ["resid_pdrop"] = 0.0,
        ["embd_pdrop"] = 0.0,
        ["attn_pdrop"] = 0.0,
        ["tie_word_embeddings"] = true,
        ["bos_token_id"] = c.BosTokenId ?? c.VocabSize - 1,
        ["eos_token_id"] = c.EosTokenId ?? c.VocabSize - 1,
    };

    public IEnumerable<(string Name, Tensor Tensor)> HfTensors(TransformerConfig c, TransformerWeights w)
    {
        if (c.AttentionOnly || w.Blocks.Any(b => b.Attention.Qkv is null) || !w.Unembed.OutIn)
            throw new ModelConfigException("gpt2 export needs MLP blocks, fused q|k|v weights and an [out, in] unembedding");
        // Hugging Face's GPT-2 stores Conv1D weights [in, out]; GGUF files hold them [out, in].
        static Tensor Conv1D(Linear linear) => linear.OutIn ? linear.Weight.Transpose(0, 1).Contiguous() : linear.Weight;
        yield return ("transformer.wte.weight", w.Embedding);
        yield return ("transformer.wpe.weight", w.PositionEmbedding!);
        for (int l = 0; l < c.NLayers; l++)
        {
            var b = w.Blocks[l];
            string p = $"transformer.h.{l}.";
            yield return (p + "ln_1.weight", b.Ln1.Weight);
            yield return (p + "ln_1.bias", b.Ln1.Bias!);
            yield return (p + "attn.c_attn.weight", Conv1D(b.Attention.Qkv!));
            yield return (p + "attn.c_attn.bias", b.Attention.Qkv!.Bias!);
            yield return (p + "attn.c_proj.weight", Conv1D(b.Attention.O));
            yield return (p + "attn.c_proj.bias", b.Attention.O.Bias!);
            yield return (p + "ln_2.weight", b.Ln2!.Weight);
            yield return (p + "ln_2.bias", b.Ln2.Bias!);
            yield return (p + "mlp.c_fc.weight", Conv1D(b.Mlp!.In));
            yield return (p + "mlp.c_fc.bias", b.Mlp.In.Bias!);
            yield return (p + "mlp.c_proj.weight", Conv1D(b.Mlp.Out));
            yield return (p + "mlp.c_proj.bias", b.Mlp.Out.Bias!);
        }
        yield return ("transformer.ln_f.weight", w.FinalNorm.Weight);
        yield return ("transformer.ln_f.bias", w.FinalNorm.Bias!);
        foreach (var p in HfCheckpoint.UntiedUnembedding(w, Name)) yield return p;
    }
}

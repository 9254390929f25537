using Pinpoint.Models.Formats;
using Pinpoint.Models.Tokenizers;
using System.Text.Json;
using Pinpoint.Models.Architectures;
using System.Text.Json.Serialization;

namespace Pinpoint.Training;

/// <summary>Everything that determines a training run. Stored beside its checkpoints so a resume uses the same recipe.</summary>
public sealed record TrainConfig
{
    public string Architecture { get; init; } = "gpt2";
    public int DModel { get; init; } = 256;
    public int NLayers { get; init; } = 4;
    public int NHeads { get; init; } = 4;
    /// <summary>Blocks without MLPs (the classic induction-head setting).</summary>
    public bool AttentionOnly { get; init; }
    /// <summary>0 picks the architecture's usual width (4·d_model for GPT-2, about 8/3·d_model for Llama's gated MLP).</summary>
    public int DMlp { get; init; }
    public int Context { get; init; } = 256;
    public int VocabSize { get; init; } = 8192;

    public int BatchSize { get; init; } = 16;
    public int GradAccumulation { get; init; } = 1;
    public int Steps { get; init; } = 1000;
    public float LearningRate { get; init; } = 1e-3f;
    public float MinLearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 100;
    public float WeightDecay { get; init; } = 0.1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float AdamEps { get; init; } = 1e-8f;
    public float GradClip { get; init; } = 1f;

    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 8;
    public double ValidationFraction { get; init; } = 0.02;
    /// <summary>Besides the log-spaced schedule (1, 2, 4, ...), also checkpoint every this many steps (0: never).</summary>
    public int CheckpointEvery { get; init; } = 500;
    public int Seed { get; init; } = 1;
    /// <summary>Attention-only models have no Hugging Face layout, so their runs may switch checkpoints off.</summary>
    public bool SaveCheckpoints { get; init; } = true;

    /// <summary>
    /// Where training windows come from: <see cref="CorpusData"/> (the corpus files) or <see cref="RepeatedRandomTokensData"/>
    /// (random token strings repeated, see <see cref="RepeatedRandomTokens"/>: the induction-head task, no corpus needed;
    /// without a tokenizer its vocabulary is the first vocab_size − 1 byte tokens and end-of-text, so vocab_size ≤ 257).
    /// </summary>
    public string Data { get; init; } = CorpusData;
    public const string CorpusData = "corpus", RepeatedRandomTokensData = "repeated_random_tokens";
    public const int MaxByteVocabSize = 257;

    /// <summary>
    /// Share of each training micro-batch's rows that end in an exact repeat of their own last span (natural text, then
    /// the span again: the pattern induction heads predict, Olsson et al. 2022). Corpus data only; validation never changes.
    /// </summary>
    public double RepeatFraction { get; init; }
    /// <summary>[min, max] tokens of the repeated span (drawn uniformly per row); null: [context / 8, (context + 1) / 2].</summary>
    public int[]? RepeatSpan { get; init; }
    /// <summary>What the repeated span is: the text's own last tokens (<see cref="CorpusData"/>) or uniform random tokens (<see cref="RandomRepeat"/>).</summary>
    public string RepeatTokens { get; init; } = CorpusData;
    public const string RandomRepeat = "random";
    /// <summary>
    /// Where a repeat row's span and its repeat sit: at the end of the row (<see cref="RepeatAtEnd"/>), or at a uniformly
    /// random offset with the text continuing after the repeat (<see cref="RepeatAnywhere"/>). Repeats only at the end
    /// teach a model to copy only late in its context, which the induction probe's early repeats do not reward.
    /// </summary>
    public string RepeatPosition { get; init; } = RepeatAtEnd;
    public const string RepeatAtEnd = "end", RepeatAnywhere = "anywhere";
    /// <summary>
    /// Share of each training micro-batch's rows (after the repeat rows) placed on an occurrence of one of
    /// <see cref="FocusTokens"/>: a data mix that makes rare decisions, such as " an" against " a", common. Corpus data
    /// only; validation never changes.
    /// </summary>
    public double FocusFraction { get; init; }
    /// <summary>Single-token strings (e.g. " a", " an"); each focus row picks one uniformly, so rare tokens weigh as much as common ones.</summary>
    public string[] FocusTokens { get; init; } = [];
    /// <summary>
    /// Only occurrences whose next token already occurred in the half row before them (an article whose noun was named
    /// earlier: the case where a model can know which article comes).
    /// </summary>
    public bool FocusNextInContext { get; init; }
    /// <summary>
    /// Weight of the training loss at every position whose next token is one of <see cref="FocusTokens"/>, against 1
    /// elsewhere (the loss is the weighted mean; 1 leaves it plain). A focus row holds one such decision among
    /// <see cref="Context"/> predictions, so the data mix alone barely moves the gradient; this makes each decision count.
    /// With equal weights for, say, " a" and " an", their odds against each other keep the data's; only the odds of the
    /// focus tokens against all others rise. Validation loss stays unweighted.
    /// </summary>
    public double FocusLossWeight { get; init; } = 1;
    /// <summary>
    /// A checkpoint folder whose weights and AdamW moments start this run (a new run with this recipe's own warm-up and
    /// schedule; steps and tokens continue from the checkpoint's). Its tokenizer must be the recipe's; its shape the recipe's, or
    /// smaller for a Llama checkpoint, which is then grown into the recipe's shape (<see cref="ModelGrowth"/>). An exported
    /// model folder (no trainer state, no moments) starts the run at step 0 with fresh moments.
    /// </summary>
    public string? Init { get; init; }

    public string[] Corpus { get; init; } = [];
    /// <summary>An existing tokenizer.json; when null a byte-level BPE of <see cref="VocabSize"/> is trained on the corpus.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Training-dynamics metrics recorded at each evaluation and checkpoint: "induction", "prev_token", and paths of score datasets (*.jsonl).</summary>
    public string[] Metrics { get; init; } = ["induction", "prev_token"];

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new NonFiniteAsNull() },
    };

    public static TrainConfig Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainConfig>(File.ReadAllText(path), Json)
                   ?? throw new InvalidDataException($"{path}: empty training config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid training config ({e.Message})");
        }
    }

    /// <summary>Rejects impossible recipes before any work starts.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        var trainable = ArchitectureRegistry.All.OfType<ITrainableArchitecture>().Select(a => a.Name).ToList();
        if (!trainable.Contains(Architecture)) problems.Add($"architecture '{Architecture}' cannot be trained (trainable: {string.Join(", ", trainable)})");
        if (DModel <= 0 || NLayers <= 0 || NHeads <= 0 || Context <= 1 || VocabSize < 2) problems.Add("sizes must be positive, context > 1 and vocab_size > 1");
        if (NHeads > 0 && DModel % NHeads != 0) problems.Add($"n_heads {NHeads} does not divide d_model {DModel}");
        if (VocabSize > 65536) problems.Add($"vocab_size {VocabSize} exceeds the uint16 token files (65536)");
        if (BatchSize <= 0 || GradAccumulation <= 0 || Steps <= 0) problems.Add("batch_size, grad_accumulation and steps must be positive");
        if (!(LearningRate > 0) || MinLearningRate < 0 || MinLearningRate > LearningRate) problems.Add("need 0 ≤ min_learning_rate ≤ learning_rate and learning_rate > 0");
        if (WarmupSteps < 0 || WarmupSteps > Steps) problems.Add("warmup_steps must be within [0, steps]");
        if (!(ValidationFraction > 0 && ValidationFraction < 0.5)) problems.Add("validation_fraction must be in (0, 0.5)");
        if (EvalEvery <= 0 || EvalBatches <= 0) problems.Add("eval_every and eval_batches must be positive");
        if (AttentionOnly && SaveCheckpoints) problems.Add("attention-only models cannot be checkpointed in Hugging Face format; set save_checkpoints to false");
        if (Data is not (CorpusData or RepeatedRandomTokensData)) problems.Add($"data must be {CorpusData} or {RepeatedRandomTokensData}, got '{Data}'");
        if (Data == RepeatedRandomTokensData && Tokenizer is null && VocabSize > MaxByteVocabSize)
            problems.Add($"{RepeatedRandomTokensData} without a tokenizer uses byte tokens and end-of-text: vocab_size must be at most {MaxByteVocabSize}, got {VocabSize}");
        if (!(RepeatFraction >= 0 && RepeatFraction <= 1)) problems.Add($"repeat_fraction must be in [0, 1], got {RepeatFraction}");
        if (RepeatFraction > 0 && Data != CorpusData) problems.Add($"repeat_fraction needs data {CorpusData}");
        if (RepeatTokens is not (CorpusData or RandomRepeat)) problems.Add($"repeat_tokens must be {CorpusData} or {RandomRepeat}, got '{RepeatTokens}'");
        if (RepeatPosition is not (RepeatAtEnd or RepeatAnywhere)) problems.Add($"repeat_position must be {RepeatAtEnd} or {RepeatAnywhere}, got '{RepeatPosition}'");
        if (!(FocusFraction >= 0 && FocusFraction <= 1)) problems.Add($"focus_fraction must be in [0, 1], got {FocusFraction}");
        if (FocusFraction > 0 && FocusTokens.Length == 0) problems.Add("focus_fraction needs focus_tokens");
        if (FocusFraction > 0 && Data != CorpusData) problems.Add($"focus_fraction needs data {CorpusData}");
        if (!(FocusLossWeight > 0 && double.IsFinite(FocusLossWeight))) problems.Add($"focus_loss_weight must be positive and finite, got {FocusLossWeight}");
        if (FocusLossWeight != 1 && FocusTokens.Length == 0) problems.Add("focus_loss_weight needs focus_tokens");
        if (RepeatSpan is not null && (RepeatSpan.Length != 2 || RepeatSpan[0] < 1 || RepeatSpan[0] > RepeatSpan[1] || RepeatSpan[1] > (Context + 1) / 2))
            problems.Add($"repeat_span must be [min, max] with 1 ≤ min ≤ max ≤ (context + 1) / 2 = {(Context + 1) / 2}");
        if (problems.Count > 0) throw new ArgumentException("invalid training config: " + string.Join("; ", problems));
    }

    /// <summary>The rows of a training micro-batch that end in a repeated span (none when <see cref="RepeatFraction"/> is 0), over <paramref name="vocabSize"/> tokens.</summary>
    public RepeatMix Repeats(int vocabSize) => new(RepeatFraction, RepeatSpan?[0] ?? Math.Max(1, Context / 8), RepeatSpan?[1] ?? (Context + 1) / 2,
        RepeatTokens == RandomRepeat ? vocabSize : 0, RepeatPosition == RepeatAnywhere);

    /// <summary>The rows of a training micro-batch placed on focus tokens (none when <see cref="FocusFraction"/> is 0), as ids of <paramref name="tokenizer"/>.</summary>
    public FocusMix Focus(ITokenizer tokenizer) =>
        FocusFraction <= 0 ? FocusMix.None : new FocusMix(FocusFraction, FocusTokenIds(tokenizer), FocusNextInContext);

    /// <summary><see cref="FocusTokens"/> as ids of <paramref name="tokenizer"/> (each must be one token).</summary>
    public int[] FocusTokenIds(ITokenizer tokenizer) => FocusTokens.Select(token =>
    {
        var encoded = tokenizer.Encode(token, addBos: false);
        return encoded.Length == 1 ? encoded[0]
            : throw new ArgumentException($"invalid training config: focus token '{token}' is {encoded.Length} tokens, not one");
    }).Distinct().ToArray();

    /// <summary>Learning rate at optimizer step <paramref name="step"/> (1-based): linear warmup, then cosine to the minimum.</summary>
    public float LearningRateAt(int step)
    {
        if (step <= WarmupSteps) return LearningRate * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, Steps - WarmupSteps);
        return (float)(MinLearningRate + 0.5 * (LearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * Math.Min(1, progress))));
    }
}

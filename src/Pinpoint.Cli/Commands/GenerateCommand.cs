using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint generate</c>: continue a prompt with the KV-cached sampler; deterministic for a seed.</summary>
public sealed class GenerateCommand : Command
{
    private static readonly CliOption Prompt = new("prompt", "TEXT", "text to continue (required; BOS is prepended when the model expects it)");
    private static readonly CliOption MaxNewTokens = new("max-new-tokens", "N", "tokens to generate at most (default 64); stops early at end-of-text", 'n');
    private static readonly CliOption Temperature = new("temperature", "T", "sampling temperature; 0 (the default) is greedy");
    private static readonly CliOption TopK = new("top-k", "K", "sample only from the K most likely tokens (0, the default, keeps all)");
    private static readonly CliOption TopP = new("top-p", "P", "sample only from the smallest set of tokens whose probability reaches P (default 1)");
    private static readonly CliOption Seed = new("seed", "S", "random seed (default 0)");

    public override string Name => "generate";
    public override string Summary => "continue a prompt (greedy by default, or sampled with a seed)";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, ModelOptions.Steer, Prompt, MaxNewTokens, Temperature, TopK, TopP, Seed];
    public override Type ResultType => typeof(Result);

    /// <param name="Text">The continuation as it reads after the prompt (special tokens left out).</param>
    /// <param name="Stop">Why generation ended: "max_new_tokens", "end_of_text", or "context_full" (the model's context ran out first).</param>
    public sealed record Result(int[] PromptIds, int[] Ids, string Text, string Stop);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var prompt = args.RequiredString(Prompt);
        int maxNewTokens = args.Int(MaxNewTokens, 64, min: 1);
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions(
            args.Float(Temperature, defaults.Temperature), args.Int(TopK, defaults.TopK), args.Float(TopP, defaults.TopP), args.Int(Seed, defaults.Seed));
        using var loaded = ModelOptions.Open(args, output);
        var result = Continue(loaded, prompt, maxNewTokens, sampling);
        if (output.Json) output.WriteJson(result);
        else output.Text.WriteLine(prompt + result.Text);
        if (result.Stop == "context_full")
            output.Note($"stopped after {result.Ids.Length} of the {maxNewTokens} new tokens asked for (--{MaxNewTokens.Name}): " +
                $"the prompt's {result.PromptIds.Length} tokens and the continuation fill the model's context of {loaded.Model.Config.ContextLength}");
        return 0;
    }

    public static Result Continue(Pinpoint.Models.Loading.LoadedModel loaded, string prompt, int maxNewTokens, SamplingOptions sampling)
    {
        var promptIds = loaded.Encode(prompt);
        var ids = loaded.Model.Generate(promptIds, maxNewTokens, sampling, loaded.Tokenizer.Eos).ToArray();
        var stop = ids.Length > 0 && ids[^1] == loaded.Tokenizer.Eos ? "end_of_text" : ids.Length == maxNewTokens ? "max_new_tokens" : "context_full";
        return new Result(promptIds, ids, loaded.Tokenizer.DecodeContinuation(promptIds, ids), stop);
    }
}

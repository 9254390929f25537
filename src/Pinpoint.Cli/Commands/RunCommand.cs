using System.Globalization;
using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Cli.Commands;

/// <summary><c>pinpoint run</c>: one forward pass; the prompt's tokens and the top next-token predictions.</summary>
public sealed class RunCommand : Command
{
    private static readonly CliOption Prompt = new("prompt", "TEXT", "text to run (BOS is prepended when the model expects it)");
    private static readonly CliOption Ids = new("ids", "1,2,3", "token ids to run instead of a prompt, used exactly as given");
    private static readonly CliOption Top = new("top", "K", "how many top predictions of the last position to show (default 10)");
    private static readonly CliOption Logits = new("logits", null, "include the full last-position logit vector (JSON: \"logits\")");

    public override string Name => "run";
    public override string Summary => "run a prompt (or token ids) and show the top next-token predictions";
    public override IReadOnlyList<CliOption> Options { get; } = [.. ModelOptions.All, ModelOptions.Steer, Prompt, Ids, Top, Logits];
    public override Type ResultType => typeof(Result);

    public sealed record Prediction(int Id, string Token, float Logit, double Prob);

    public sealed record Result(int[] Ids, string[] Tokens, Prediction[] Top, float[]? Logits);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        int k = args.Int(Top, 10, min: 1);
        bool withLogits = args.Flag(Logits);
        var prompt = args.String(Prompt);
        var givenIds = args.IntList(Ids);
        if ((prompt is null) == (givenIds is null)) throw new CliException($"give exactly one of --{Prompt.Name} and --{Ids.Name}");
        using var loaded = ModelOptions.Open(args, output);
        var result = Predict(loaded, givenIds is null ? loaded.Encode(prompt!) : CheckIds(givenIds, loaded), k, withLogits);
        var ids = result.Ids;
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        var tokens = CommandOutput.NewTable("position", "id", "token");
        for (int i = 0; i < ids.Length; i++) CommandOutput.AddRow(tokens, CommandOutput.Int(i), CommandOutput.Int(ids[i]), CommandOutput.Quote(result.Tokens[i]));
        output.Write(tokens);
        var top = CommandOutput.NewTable("rank", "id", "token", "logit", "prob");
        for (int i = 0; i < result.Top.Length; i++)
        {
            var p = result.Top[i];
            CommandOutput.AddRow(top, CommandOutput.Int(i + 1), CommandOutput.Int(p.Id), CommandOutput.Quote(p.Token), p.Logit.ToString("F4", CultureInfo.InvariantCulture), p.Prob.ToString("P2", CultureInfo.InvariantCulture));
        }
        output.Write(top);
        if (result.Logits is { } logits) output.Text.WriteLine("logits: " + string.Join(" ", logits.Select(l => l.ToString("R", CultureInfo.InvariantCulture))));
        return 0;
    }

    /// <summary>One forward pass of <paramref name="ids"/>: the top <paramref name="k"/> next tokens, and all logits when asked.</summary>
    public static Result Predict(LoadedModel loaded, int[] ids, int k, bool withLogits)
    {
        var vocab = loaded.Model.Config.VocabSize;
        var logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).Span[^vocab..].ToArray();
        return new Result(
            ids,
            ids.Select(loaded.Tokenizer.TokenText).ToArray(),
            TopPredictions(logits, k).Select(p => new Prediction(p.Id, loaded.Tokenizer.TokenText(p.Id), logits[p.Id], p.Prob)).ToArray(),
            withLogits ? logits : null);
    }

    /// <summary>--ids as given, checked against the vocabulary and the context (errors name the option and the model).</summary>
    private static int[] CheckIds(int[] ids, LoadedModel loaded)
    {
        var c = loaded.Model.Config;
        foreach (var id in ids)
            if ((uint)id >= (uint)c.VocabSize)
                throw new ArgumentException($"--{Ids.Name}: token id {id} is outside the vocabulary of {c.VocabSize} ({loaded.Path})");
        if (ids.Length > c.ContextLength)
            throw new ArgumentException($"--{Ids.Name}: {ids.Length} tokens exceed the model's context of {c.ContextLength} ({loaded.Path})");
        return ids;
    }

    /// <summary>The <paramref name="k"/> largest logits (ties by lower id) with their softmax probabilities, computed in double.</summary>
    private static IEnumerable<(int Id, double Prob)> TopPredictions(float[] logits, int k)
    {
        double max = logits.Max(), sum = 0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return Enumerable.Range(0, logits.Length)
            .OrderByDescending(i => logits[i]).ThenBy(i => i)
            .Take(k)
            .Select(i => (i, Math.Exp(logits[i] - max) / sum));
    }
}

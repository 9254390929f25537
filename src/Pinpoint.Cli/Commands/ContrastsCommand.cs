using System.Globalization;
using System.Text;
using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Reports;
using Pinpoint.Models.Formats;

namespace Pinpoint.Cli.Commands;

/// <summary>
/// <c>pinpoint contrasts</c>: score items from running text — every place in a corpus split where the next token is
/// one of two words — written as JSONL for <c>score</c>, <c>explain --dataset</c> and <c>dynamics --dataset</c>.
/// </summary>
public sealed class ContrastsCommand : Command
{
    private static readonly CliOption Corpus = new("corpus", "FILES", "comma-separated corpus files (.txt, .jsonl with a \"text\" field, WordNet .tsv), read as pinpoint train reads them");
    private static readonly CliOption Word = new("word", "TEXT", "one of the two words, given twice (e.g. --word \" an\" --word \" a\"); each must be one token", Repeatable: true);
    private static readonly CliOption Out = new("out", "FILE", "the JSONL file to write: {\"prompt\",\"target\",\"foil\",\"group\",\"file\",\"document\",\"position\",\"next\"?} per line");
    private static readonly CliOption Split = new("split", "S", "documents to use: validation (default), train or all — the trainer's hash split of the files in the order given");
    private static readonly CliOption Context = new("context", "N", $"tokens of the document before the word kept in the prompt, at most (default 64, at least {ContrastSet.MinimumContext})");
    private static readonly CliOption PerWord = new("per-word", "N", "items per word at most (default: as many as the rarer word has)");
    private static readonly CliOption Seed = new("seed", "S", "seed of the random draw (default 1)");

    public override string Name => "contrasts";
    public override string Summary => "write score items from running text: every place in a corpus split where the next token is one of two words";
    public override IReadOnlyList<CliOption> Options { get; } =
        [.. ModelOptions.All, Corpus, Word, Out, Split, SaeTrainCommand.ValidationFraction, Context, PerWord, Seed];
    public override Type ResultType => typeof(Result);

    public sealed record Result(string Out, string Split, long Documents, long Tokens, int Items, ContrastWordCount[] Words, int ShortContext, int NotReencoded);

    public override int Execute(CliArgs args, CommandOutput output)
    {
        var corpus = args.RequiredString(Corpus).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var file in corpus)
            if (!File.Exists(file)) throw new CliException($"--corpus: {file} does not exist");
        var words = args.Strings(Word);
        if (words.Count != 2) throw new CliException($"--word must be given exactly twice (the two words to contrast), got {words.Count}");
        var outPath = args.RequiredString(Out);
        AtomicFile.CheckWritable(Path.GetFullPath(outPath));
        string split = args.String(Split) ?? "validation";
        var keep = SaeTrainCommand.DocumentFilter(split, args.Float(SaeTrainCommand.ValidationFraction, 0.02f));
        int context = args.Int(Context, 64, min: ContrastSet.MinimumContext);
        int? perWord = args.String(PerWord) is null ? null : args.Int(PerWord, 0, min: 1);
        int seed = args.Int(Seed, 1);

        using var loaded = ModelOptions.Open(args, output);
        var set = ContrastSet.Build(loaded, corpus, words[0], words[1], context, perWord, seed, keep);
        AtomicFile.Write(outPath, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), bufferSize: -1, leaveOpen: true);
            foreach (var item in set.Items) writer.Write(ReportJson.Serialize(item) + "\n");
        });
        var result = new Result(Path.GetFullPath(outPath), split, set.Documents, set.Tokens, set.Items.Count, [.. set.Words], set.ShortContext, set.NotReencoded);
        if (output.Json)
        {
            output.WriteJson(result);
            return 0;
        }
        var table = CommandOutput.NewTable("word", "occurrences", "items");
        foreach (var w in result.Words) CommandOutput.AddRow(table, CommandOutput.Quote(w.Word), CommandOutput.Int(w.Occurrences), CommandOutput.Int(w.Items));
        output.Write(table);
        output.Text.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Items:N0} items from {result.Documents:N0} documents ({split} split, {result.Tokens:N0} tokens); skipped: {result.ShortContext:N0} with under {ContrastSet.MinimumContext} tokens before them, {result.NotReencoded:N0} whose prompt does not re-tokenize the same; wrote {result.Out}"));
        return 0;
    }
}

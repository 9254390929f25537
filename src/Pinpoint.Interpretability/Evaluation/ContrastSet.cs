using Pinpoint.Models.Loading;
using Pinpoint.Training;

namespace Pinpoint.Interpretability.Evaluation;

/// <summary>
/// One place in a corpus where the next token is one of two contrasted words: <see cref="Prompt"/> is the text of the
/// tokens before it, <see cref="Target"/> the word that follows there, <see cref="Foil"/> the other word.
/// </summary>
/// <param name="Document">The document's index over all the corpus files (the trainer's numbering).</param>
/// <param name="Position">The word's token position in its document.</param>
/// <param name="Next">The token after the word, when the document goes on (e.g. the noun after an article).</param>
public sealed record ContrastItem(string Prompt, string Target, string Foil, string File, long Document, int Position, string? Next)
{
    /// <summary>The target word: <c>pinpoint score</c> then reports accuracy per word.</summary>
    public string Group => Target;
}

/// <param name="Occurrences">Every occurrence in the documents read.</param>
/// <param name="Items">How many of them became items.</param>
public sealed record ContrastWordCount(string Word, int Occurrences, int Items);

/// <param name="ShortContext">Occurrences with fewer than <see cref="ContrastSet.MinimumContext"/> tokens before them in their document.</param>
/// <param name="NotReencoded">Drawn occurrences skipped because their prompt's text does not tokenize back to the same tokens.</param>
public sealed record ContrastSetResult(IReadOnlyList<ContrastItem> Items, IReadOnlyList<ContrastWordCount> Words,
    long Documents, long Tokens, int ShortContext, int NotReencoded);

/// <summary>
/// Score items from running text: every place in a corpus (or one split of it) where the next token is one of two
/// words, e.g. " an" and " a", with the tokens before it as the prompt. Both words get the same number of items (the
/// rarer word's count, or fewer when asked), drawn at random, so accuracy per target word measures how often the model
/// anticipates each — in ordinary text rather than in hand-written prompts.
/// </summary>
public static class ContrastSet
{
    /// <summary>The fewest tokens of context an item's prompt has.</summary>
    public const int MinimumContext = 4;

    /// <param name="context">Tokens of the document before the word kept in the prompt (at most).</param>
    /// <param name="perWord">Items per word at most; null: as many as the rarer word has.</param>
    /// <param name="keepDocument">Selects documents by their index over all the files (e.g. the trainer's validation split).</param>
    public static ContrastSetResult Build(LoadedModel model, IReadOnlyList<string> files, string firstWord, string secondWord, int context,
        int? perWord = null, int seed = 1, Func<long, bool>? keepDocument = null)
    {
        if (files.Count == 0) throw new ArgumentException("no corpus files given");
        if (firstWord == secondWord) throw new ArgumentException($"the two words are the same ('{firstWord}')");
        int maxContext = model.Model.Config.ContextLength - 1;
        if (context < MinimumContext || context > maxContext)
            throw new ArgumentException($"context of {context} tokens: it must be {MinimumContext}..{maxContext} (the model's context less the word)");
        if (perWord is < 1) throw new ArgumentException($"{perWord} items per word: it must be at least 1");
        string[] words = [firstWord, secondWord];
        int[] wordIds = [.. words.Select(w => SingleToken(model, w))];

        var documents = new List<(string File, long Index, int[] Ids)>();
        var candidates = new[] { new List<(int Document, int Position)>(), new List<(int Document, int Position)>() };
        var occurrences = new int[2];
        long documentIndex = 0, documentsRead = 0, tokens = 0;
        int shortContext = 0;
        foreach (var file in files)
        {
            foreach (var text in CorpusReader.Documents(file))
            {
                long index = documentIndex++;
                if (keepDocument is not null && !keepDocument(index)) continue;
                documentsRead++;
                var ids = model.Tokenizer.Encode(text, addBos: false);
                tokens += ids.Length;
                bool kept = false;
                for (int p = 0; p < ids.Length; p++)
                {
                    int word = Array.IndexOf(wordIds, ids[p]);
                    if (word < 0) continue;
                    occurrences[word]++;
                    if (p < MinimumContext) { shortContext++; continue; }
                    candidates[word].Add((documents.Count, p));
                    kept = true;
                }
                if (kept) documents.Add((Path.GetFileName(file), index, ids));
            }
        }
        if (documentsRead == 0) throw new InvalidDataException("no documents were read (is the split empty for these files?)");
        for (int w = 0; w < 2; w++)
            if (candidates[w].Count == 0)
                throw new InvalidDataException($"'{words[w]}' never follows {MinimumContext} or more tokens in the {documentsRead:N0} documents read; nothing to contrast");

        // Draw each word's occurrences in a seeded random order until its share is filled with prompts that re-encode.
        var random = new Random(seed);
        int wanted = Math.Min(perWord ?? int.MaxValue, Math.Min(candidates[0].Count, candidates[1].Count));
        var drawn = new[] { new List<ContrastItem>(), new List<ContrastItem>() };
        int notReencoded = 0;
        for (int w = 0; w < 2; w++)
        {
            var order = candidates[w].ToArray();
            random.Shuffle(order);
            foreach (var (document, position) in order)
            {
                if (drawn[w].Count == wanted) break;
                var (file, index, ids) = documents[document];
                var before = ids.AsSpan(Math.Max(0, position - context), Math.Min(context, position));
                var prompt = model.Tokenizer.Decode(before);
                if (!model.Tokenizer.Encode(prompt, addBos: false).AsSpan().SequenceEqual(before)) { notReencoded++; continue; }
                string? next = position + 1 < ids.Length ? model.Tokenizer.TokenText(ids[position + 1]) : null;
                drawn[w].Add(new ContrastItem(prompt, words[w], words[1 - w], file, index, position, next));
            }
        }
        int balanced = Math.Min(drawn[0].Count, drawn[1].Count);
        if (balanced == 0)
            throw new InvalidDataException($"no occurrence of '{words[drawn[0].Count == 0 ? 0 : 1]}' has a prompt that tokenizes back to the same tokens");
        var items = drawn.SelectMany(d => d.Take(balanced)).ToList();
        var counts = Enumerable.Range(0, 2).Select(w => new ContrastWordCount(words[w], occurrences[w], balanced)).ToList();
        return new ContrastSetResult(items, counts, documentsRead, tokens, shortContext, notReencoded);
    }

    private static int SingleToken(LoadedModel model, string word)
    {
        var ids = model.Tokenizer.Encode(word, addBos: false);
        return ids.Length == 1
            ? ids[0]
            : throw new ArgumentException($"'{word}' is {ids.Length} tokens under this tokenizer; a contrast needs two single-token words");
    }
}

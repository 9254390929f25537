using Pinpoint.Training;
using Pinpoint.Models.Loading;

namespace Pinpoint.Interpretability.Activations;

/// <summary>
/// One token sequence to run through the model. <paramref name="Source"/> identifies where it came from (the item's
/// index in a dataset, or the window's index in a corpus) and is carried into every harvested row;
/// <paramref name="Marked"/> is the position read under <see cref="HarvestPositions.Marked"/> (−1: none).
/// </summary>
public sealed record HarvestSequence(int[] Ids, long Source, int Marked = -1);

/// <summary>Ways of turning texts and corpus files into <see cref="HarvestSequence"/>s.</summary>
public static class HarvestSources
{
    /// <summary>
    /// One sequence per text, encoded with the model's BOS rule. A text over the model's context is an error
    /// naming its index (front ends translate it to FILE:LINE), never silently cut.
    /// </summary>
    public static IEnumerable<HarvestSequence> Texts(LoadedModel model, IEnumerable<string> texts)
    {
        long index = 0;
        foreach (var text in texts)
        {
            var ids = model.Tokenizer.Encode(text, model.Model.Config.AddBos && model.Tokenizer.Bos is not null);
            if (ids.Length == 0) throw new ArgumentException($"text {index} encodes to no tokens");
            if (ids.Length > model.Model.Config.ContextLength)
                throw new ArgumentException($"text {index} is {ids.Length} tokens long; the model's context is {model.Model.Config.ContextLength}");
            yield return new HarvestSequence(ids, index++);
        }
    }

    /// <summary>
    /// A text whose token at the end of <paramref name="prefix"/> is marked: the sequence encodes prefix + rest
    /// and <see cref="HarvestSequence.Marked"/> is the last token of the prefix. When the prefix does not end on a
    /// token boundary of the whole text (the tokenizer merges across it) that is an error, not a guess.
    /// </summary>
    public static HarvestSequence Marked(LoadedModel model, string prefix, string rest, long source)
    {
        bool bos = model.Model.Config.AddBos && model.Tokenizer.Bos is not null;
        var whole = model.Tokenizer.Encode(prefix + rest, bos);
        var head = model.Tokenizer.Encode(prefix, bos);
        if (head.Length == 0 || head.Length > whole.Length || !whole.AsSpan(0, head.Length).SequenceEqual(head))
            throw new ArgumentException($"text {source}: the marked span does not end on a token boundary");
        if (whole.Length > model.Model.Config.ContextLength)
            throw new ArgumentException($"text {source} is {whole.Length} tokens long; the model's context is {model.Model.Config.ContextLength}");
        return new HarvestSequence(whole, source, head.Length - 1);
    }

    /// <summary>
    /// Corpus files (the trainer's txt/jsonl/tsv readers) as one token stream, documents separated by the
    /// end-of-text token where the tokenizer has one, cut into windows of <paramref name="windowLength"/> tokens;
    /// a last partial window is kept. Streams: only one document's tokens are held at a time.
    /// <paramref name="keepDocument"/>, when given, selects documents by their index over all the files (e.g. a
    /// trainer's validation split, <see cref="TokenDataset.IsValidationDocument"/>).
    /// </summary>
    public static IEnumerable<HarvestSequence> Corpus(LoadedModel model, IEnumerable<string> files, int windowLength, Func<long, bool>? keepDocument = null)
    {
        long documentIndex = 0;
        if (windowLength < 1 || windowLength > model.Model.Config.ContextLength)
            throw new ArgumentException($"window of {windowLength} tokens: it must be 1..{model.Model.Config.ContextLength} (the model's context)");
        var window = new List<int>(windowLength);
        long index = 0;
        foreach (var file in files)
        {
            bool any = false;
            foreach (var document in CorpusReader.Documents(file))
            {
                any = true;
                if (keepDocument is not null && !keepDocument(documentIndex++)) continue;
                foreach (var id in model.Tokenizer.Encode(document, addBos: false))
                {
                    window.Add(id);
                    if (window.Count == windowLength)
                    {
                        yield return new HarvestSequence([.. window], index++);
                        window.Clear();
                    }
                }
                if (model.Tokenizer.Eos is int eos) window.Add(eos);
                if (window.Count == windowLength)
                {
                    yield return new HarvestSequence([.. window], index++);
                    window.Clear();
                }
            }
            if (!any) throw new InvalidDataException($"{file}: the corpus holds no text");
        }
        if (window.Count > 0) yield return new HarvestSequence([.. window], index);
    }

    /// <summary>The sequences up to and including the one that reaches <paramref name="tokens"/> tokens in all (lazily).</summary>
    public static IEnumerable<HarvestSequence> FirstTokens(IEnumerable<HarvestSequence> sequences, long tokens)
    {
        long taken = 0;
        return sequences.TakeWhile(s => (taken += s.Ids.Length) - s.Ids.Length < tokens);
    }
}

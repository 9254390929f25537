using Pinpoint.Interpretability.Evaluation;
using Pinpoint.Interpretability.Explain;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Tests.Reports;

/// <summary>
/// A real <see cref="ExplainReport"/> of a tiny random model whose vocabulary is made of tokens that break careless
/// HTML: markup, entities, quotes, a control character, a newline, a leading space and half a surrogate pair.
/// </summary>
public static class NastyTokenReport
{
    public const string Script = "<script>alert('x')</script>";

    public static readonly string[] Vocabulary =
        [Script, " &amp;", " \"q\"", "\u0007", "\n", " lead", "\uD83D", " the", " a", "x", "y", "z"];

    public const int Layers = 2, Heads = 2;

    private static readonly ExplainOptions Options = new() { TopK = 5, VerifyK = 3, ReferencePrompts = ["xyz", "zyx the a"] };

    private static readonly Lazy<ExplainReport> Cached = new(Build);
    private static readonly Lazy<DatasetExplainReport> CachedDataset = new(BuildDataset);

    /// <summary>Prompt tokens 0..6 then "x"; the counterfactual swaps " &amp;" for "y".</summary>
    public static ExplainReport Report => Cached.Value;

    /// <summary>Items whose prompts hold the nasty tokens in different orders, each with a counterfactual that swaps one of them.</summary>
    public static readonly ScoreItem[] Items =
    [
        new(string.Concat(Vocabulary[..7]) + "x", " the", " a", Counterfactual: Vocabulary[0] + "y" + string.Concat(Vocabulary[2..7]) + "x"),
        new("x" + Vocabulary[0] + Vocabulary[4] + "\u0007 lead", " a", " the", Counterfactual: "xz\n\u0007 lead"),
        new(" \"q\" &amp;\uD83Dzy", " the", " a", Counterfactual: " \"q\"y\uD83Dzy"),
        new("zz" + Vocabulary[0], " a", " the", Counterfactual: "zzx"),
    ];

    public static DatasetExplainReport DatasetReport => CachedDataset.Value;

    public static LoadedModel Load()
    {
        var config = new TransformerConfig
        {
            Architecture = "gpt2", DModel = 16, NLayers = Layers, NHeads = Heads, NKvHeads = Heads, DHead = 8, DMlp = 32,
            VocabSize = Vocabulary.Length, ContextLength = 16,
        };
        var model = new HookedTransformer(config, new Gpt2Adapter().CreateRandom(config, seed: 5));
        return new LoadedModel(model, new WordListTokenizer(Vocabulary), "nasty-tokens", TensorFileFormat.Safetensors);
    }

    private static ExplainReport Build()
    {
        using var loaded = Load();
        var item = Items[0];
        return Explainer.Explain(loaded, new ExplainRequest(item.Prompt, item.Target, item.Foil, item.Counterfactual), Options);
    }

    private static DatasetExplainReport BuildDataset()
    {
        using var loaded = Load();
        return DatasetExplainer.Explain(loaded, Items, Options);
    }

    /// <summary>Greedy longest-match over a fixed list of token strings.</summary>
    internal sealed class WordListTokenizer(string[] vocabulary) : ITokenizer
    {
        public int VocabSize => vocabulary.Length;
        public int? Bos => null;
        public int? Eos => null;
        public bool AddsBosByDefault => false;

        public int[] Encode(string text, bool addBos)
        {
            var ids = new List<int>();
            for (int at = 0; at < text.Length;)
            {
                int id = Enumerable.Range(0, vocabulary.Length).Where(i => string.CompareOrdinal(text, at, vocabulary[i], 0, vocabulary[i].Length) == 0)
                    .OrderByDescending(i => vocabulary[i].Length).DefaultIfEmpty(-1).First();
                if (id < 0) throw new ArgumentException($"no token matches at offset {at} of the text");
                ids.Add(id);
                at += vocabulary[id].Length;
            }
            return [.. ids];
        }

        public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = false) => string.Concat(ids.ToArray().Select(TokenText));
        public string TokenText(int id) => vocabulary[id];
        public bool IsSpecial(int id) => false;

        public bool TryGetId(string tokenText, out int id)
        {
            id = Array.IndexOf(vocabulary, tokenText);
            return id >= 0;
        }

        public void Dispose() { }
    }
}

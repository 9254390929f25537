using MlSentencePiece = Microsoft.ML.Tokenizers.SentencePieceTokenizer;

namespace Pinpoint.Models.Tokenizers;

/// <summary>
/// A SentencePiece <c>.model</c> (protobuf), encoded by Microsoft.ML.Tokenizers with the model's own normalizer
/// settings (dummy prefix, byte fallback) — the tokenization Llama-2-family models and llama.cpp use.
/// </summary>
public sealed class SentencePieceModelTokenizer : TokenizerBase
{
    private readonly MlSentencePiece model;

    private SentencePieceModelTokenizer(string source, MlSentencePiece model, TokenPiece[] pieces)
        : base(source, pieces, model.BeginningOfSentenceId, model.EndOfSentenceId, addsBosByDefault: true, stripsDummyPrefix: model.AddDummyPrefix)
    {
        this.model = model;
    }

    public static SentencePieceModelTokenizer Load(string modelPath)
    {
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"SentencePiece model not found: {modelPath}", modelPath);
        MlSentencePiece model;
        try
        {
            using var stream = File.OpenRead(modelPath);
            model = MlSentencePiece.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{modelPath}: not a readable SentencePiece model ({e.Message})", e);
        }

        var vocab = model.Vocabulary;
        if (vocab.Count == 0) throw new InvalidDataException($"{modelPath}: empty SentencePiece vocabulary");
        var pieces = new TokenPiece[vocab.Values.Max() + 1];
        var control = new HashSet<int> { model.BeginningOfSentenceId, model.EndOfSentenceId, model.UnknownId };
        foreach (var (text, id) in vocab)
        {
            if (id >= 0) pieces[id] = SentencePiecePiece(text, control.Contains(id), model.ByteFallback);
        }
        for (var i = 0; i < pieces.Length; i++) pieces[i] = pieces[i].Bytes is null ? new TokenPiece([], "", true) : pieces[i];
        return new SentencePieceModelTokenizer(modelPath, model, pieces);
    }

    public override int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. model.EncodeToIds(text, addBeginningOfSentence: addBos, addEndOfSentence: false)];
    }
}

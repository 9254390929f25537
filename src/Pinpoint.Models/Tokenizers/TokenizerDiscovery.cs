using Pinpoint.Models.Formats;

namespace Pinpoint.Models.Tokenizers;

/// <summary>Finds and opens the tokenizer that belongs to a model path.</summary>
public static class TokenizerDiscovery
{
    /// <summary>
    /// The tokenizer file for <paramref name="path"/>: the path itself when its content is a tokenizer (a GGUF file
    /// carries its own); otherwise, in the folder it names or the folder of
    /// the model file it names: tokenizer.json, tokenizer.model, then a llama2.c tokenizer.bin or single tok*.bin
    /// (llama2.c checkpoints, *.bin, look for the llama2.c tokenizer first, as run.c does).
    /// </summary>
    /// <exception cref="FileNotFoundException">nothing suitable exists; the message lists what was tried.</exception>
    public static string Find(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path) && IsTokenizer(FileKinds.Detect(path))) return path;
        var (folder, llama2cFirst) = Directory.Exists(path)
            ? (path, false)
            : File.Exists(path)
                ? (Path.GetDirectoryName(Path.GetFullPath(path))!, path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
                : throw new FileNotFoundException($"model path not found: {path}", path);

        string?[] hf = [Existing(folder, "tokenizer.json"), Existing(folder, "tokenizer.model")];
        string?[] llama2c = [Existing(folder, "tokenizer.bin"), SingleMatch(folder, "tok*.bin")];
        var found = (llama2cFirst ? llama2c.Concat(hf) : hf.Concat(llama2c)).FirstOrDefault(p => p is not null);
        return found ?? throw new FileNotFoundException(
            $"no tokenizer for {path}: looked in {folder} for tokenizer.json, tokenizer.model, tokenizer.bin and tok*.bin", path);
    }

    /// <summary>Opens the tokenizer <see cref="Find"/> locates for <paramref name="path"/>.</summary>
    public static ITokenizer Load(string path) => Open(Find(path));

    /// <summary>
    /// Opens a tokenizer file by its content, whatever its name: a Hugging Face tokenizer.json, a SentencePiece
    /// model, a llama2.c tokenizer or a GGUF file's tokenizer.ggml.* metadata.
    /// </summary>
    public static ITokenizer Open(string tokenizerPath)
    {
        if (!File.Exists(tokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {tokenizerPath}", tokenizerPath);
        var kind = FileKinds.Detect(tokenizerPath);
        return kind switch
        {
            FileKind.HfTokenizerJson => HfTokenizer.Load(tokenizerPath),
            FileKind.SentencePieceModel => ScoredBpeTokenizer.LoadSentencePiece(tokenizerPath),
            FileKind.Llama2cTokenizer => ScoredBpeTokenizer.LoadLlama2c(tokenizerPath),
            FileKind.Gguf => GgufTokenizer.Load(tokenizerPath),
            _ => throw new NotSupportedException(
                $"{tokenizerPath}: not a tokenizer: it is {FileKinds.Describe(kind)}, not a Hugging Face tokenizer.json, a SentencePiece model, a llama2.c tokenizer or a GGUF file"),
        };
    }

    private static bool IsTokenizer(FileKind kind) =>
        kind is FileKind.HfTokenizerJson or FileKind.SentencePieceModel or FileKind.Llama2cTokenizer or FileKind.Gguf;

    private static string? Existing(string folder, string name)
    {
        var p = Path.Combine(folder, name);
        return File.Exists(p) ? p : null;
    }

    private static string? SingleMatch(string folder, string pattern)
    {
        var matches = Directory.GetFiles(folder, pattern);
        return matches.Length switch
        {
            0 => null,
            1 => matches[0],
            _ => throw new FileNotFoundException(
                $"several llama2.c tokenizers in {folder} ({string.Join(", ", matches.Select(Path.GetFileName).Order())}); pass one explicitly"),
        };
    }
}

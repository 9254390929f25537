namespace Pinpoint.Models.Tokenizers;

/// <summary>Finds and opens the tokenizer that belongs to a model path.</summary>
public static class TokenizerDiscovery
{
    /// <summary>
    /// The tokenizer file for <paramref name="path"/>: the path itself when it is a tokenizer
    /// (tokenizer.json / *.model / tokenizer.bin / tok*.bin); otherwise, in the folder it names or the folder of
    /// the model file it names: tokenizer.json, tokenizer.model, then a llama2.c tokenizer.bin or single tok*.bin
    /// (llama2.c checkpoints, *.bin, look for the llama2.c tokenizer first, as run.c does).
    /// </summary>
    /// <exception cref="FileNotFoundException">nothing suitable exists; the message lists what was tried.</exception>
    /// <exception cref="NotSupportedException">a GGUF file, whose own metadata is its tokenizer.</exception>
    public static string Find(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            throw new NotSupportedException($"{path}: a GGUF file carries its own tokenizer; build it with GgufTokenizer.Create from the file's metadata");
        if (File.Exists(path) && KindOf(path) is not null) return path;
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

    /// <summary>Opens a tokenizer file by its kind: *.json (Hugging Face), *.model (SentencePiece), *.bin (llama2.c).</summary>
    public static ITokenizer Open(string tokenizerPath) => KindOf(tokenizerPath) switch
    {
        ".json" => HfTokenizer.Load(tokenizerPath),
        ".model" => ScoredBpeTokenizer.LoadSentencePiece(tokenizerPath),
        ".bin" => ScoredBpeTokenizer.LoadLlama2c(tokenizerPath),
        _ => throw new NotSupportedException(
            $"{tokenizerPath}: not a tokenizer file (expected tokenizer.json, *.model, tokenizer.bin or tok*.bin; GGUF tokenizers come from GgufTokenizer.Create)"),
    };

    private static string? KindOf(string path)
    {
        var name = Path.GetFileName(path);
        var ext = Path.GetExtension(name).ToLowerInvariant();
        return ext switch
        {
            ".json" when name.StartsWith("tokenizer", StringComparison.OrdinalIgnoreCase) => ext,
            ".model" => ext,
            ".bin" when name.StartsWith("tok", StringComparison.OrdinalIgnoreCase) => ext,
            _ => null,
        };
    }

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

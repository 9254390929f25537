using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

public class TokenizerDiscoveryTests
{
    [Fact]
    public void FindsTokenizersBesideModels()
    {
        var stories = SharedData.Require("models/stories260K");
        var gpt2 = SharedData.Require("models/gpt2-random");
        Assert.Equal(Path.Combine(stories, "tok512.bin"), TokenizerDiscovery.Find(Path.Combine(stories, "stories260K.bin")));
        Assert.Equal(Path.Combine(gpt2, "tokenizer.json"), TokenizerDiscovery.Find(gpt2));
        Assert.Equal(Path.Combine(gpt2, "tokenizer.json"), TokenizerDiscovery.Find(Path.Combine(gpt2, "model.safetensors")));
        var model = Path.Combine(stories, "tok512.model");
        Assert.Equal(model, TokenizerDiscovery.Find(model));

        using var llama2c = TokenizerDiscovery.Load(Path.Combine(stories, "stories260K.bin"));
        Assert.IsType<ScoredBpeTokenizer>(llama2c);
        using var sp = TokenizerDiscovery.Load(model);
        Assert.Equal(llama2c.Encode("Once upon a time"), sp.Encode("Once upon a time"));
        using var hf = TokenizerDiscovery.Load(gpt2);
        Assert.IsType<HfTokenizer>(hf);
    }

    [Fact]
    public void MissingTokenizerListsWhatWasTried()
    {
        // The HF folder of stories260K ships no tokenizer (README: use tok512.model).
        var hf = SharedData.Require("models/stories260K/hf");
        var e = Assert.Throws<FileNotFoundException>(() => TokenizerDiscovery.Find(hf));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains(hf, e.Message);
        Assert.Throws<FileNotFoundException>(() => TokenizerDiscovery.Find(Path.Combine(hf, "no-such-model.bin")));
        var gguf = SharedData.Require("models/stories260K/stories260K.gguf");
        // A GGUF file is its own tokenizer (its tokenizer.ggml.* metadata).
        Assert.Equal(gguf, TokenizerDiscovery.Find(gguf));
        using var tokenizer = TokenizerDiscovery.Open(gguf);
        Assert.Equal(512, tokenizer.VocabSize);
    }
}

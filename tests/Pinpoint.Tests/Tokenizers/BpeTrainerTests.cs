using System.Diagnostics;
using Pinpoint.Models.Tokenizers;

namespace Pinpoint.Tests.Tokenizers;

public class BpeTrainerTests
{
    [Fact]
    public void TrainsLoadableExactTokenizer()
    {
        var lines = File.ReadAllLines(SharedData.Require("corpus/tinyshakespeare.txt"));
        var train = string.Join("\n", lines.Take(4000)) + "\n<|endoftext|>\n";
        var unseen = string.Join("\n", lines.Skip(30000).Take(200)) + "\n" + string.Join("\n", TextSamples.Varied);

        var sw = Stopwatch.StartNew();
        var trained = new BpeTrainer { VocabSize = 600 }.Train(new StringReader(train));
        TestContext.Current.TestOutputHelper?.WriteLine($"training took {sw.Elapsed}");
        Assert.Equal(600, trained.Tokens.Count);
        Assert.Equal(599, trained.FirstSpecialId);
        Assert.Equal("<|endoftext|>", trained.Tokens[599]);
        Assert.DoesNotContain(trained.Tokens.Take(599), t => t.Contains("endoftext"));

        var dir = Directory.CreateTempSubdirectory("pinpoint-bpe-");
        try
        {
            var path = Path.Combine(dir.FullName, "tokenizer.json");
            trained.Save(path);
            using var tok = HfTokenizer.Load(path);
            Assert.Equal(600, tok.VocabSize);
            Assert.Null(tok.Bos);
            Assert.Equal(599, tok.Eos);
            Assert.True(tok.IsSpecial(599));

            // Hugging Face's own encoder (through the loader) and the independent reference agree on unseen text.
            var reference = new ReferenceByteLevelBpe(path);
            var ids = tok.Encode(unseen, addBos: false);
            Assert.Equal(reference.Encode(unseen), ids);
            Assert.Equal(unseen, tok.Decode(ids));
            foreach (var text in TextSamples.Varied) Assert.Equal(text, tok.Decode(tok.Encode(text, addBos: false)));

            foreach (var word in (string[])[" the", " and", " to", " of", " you", " my"])
                Assert.True(tok.Encode(word, addBos: false).Length == 1, $"'{word}' is not a single token");
            var bytesPerToken = (double)System.Text.Encoding.UTF8.GetByteCount(unseen) / ids.Length;
            Assert.True(bytesPerToken > 1.5, $"only {bytesPerToken:F2} bytes per token");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void StreamsFilesAndIsDeterministic()
    {
        var path = SharedData.Require("corpus/tinystories_sample.txt");
        var trainer = new BpeTrainer { VocabSize = 400 };
        var fromFile = trainer.Train([path]);
        // The file holds whole stories separated by <|endoftext|>; cutting it into 1 MiB chunks must not change the counts.
        var fromText = trainer.Train(new StringReader(File.ReadAllText(path)));
        Assert.Equal(fromText.Merges, fromFile.Merges);
        Assert.Equal(fromText.Tokens, fromFile.Tokens);
        Assert.Throws<FileNotFoundException>(() => trainer.Train([path + ".missing"]));
    }

    [Fact]
    public void TrainsLargeVocabulary()
    {
        // 4.3 MB of text to 8192 tokens; the whole 31 MB shared corpus takes about 25 s on 2 cores.
        var path = SharedData.Require("corpus/kjv_bible.txt");
        var sw = Stopwatch.StartNew();
        var trained = new BpeTrainer { VocabSize = 8192 }.Train([path]);
        TestContext.Current.TestOutputHelper?.WriteLine($"training took {sw.Elapsed}");
        Assert.Equal(trained.Merges.Count, trained.Merges.Distinct().Count());
        Assert.Contains("ĠLORD", trained.Tokens);
        Assert.True(trained.Tokens.Count > 4096, $"only {trained.Tokens.Count} tokens");
    }
}

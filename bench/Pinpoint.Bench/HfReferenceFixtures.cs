using System.Text.Json;
using Pinpoint.Engine.Autograd;
using Pinpoint.Models.Loading;
using Pinpoint.Models.Transformer;
using Pinpoint.Tests.Oracle;

namespace Pinpoint.Bench;

/// <summary>
/// Writes, for each supported architecture, a random-weight Hugging Face folder and Pinpoint's logits at every position
/// for fixed token ids, under runs/hf-reference/. Hugging Face transformers cannot run here (no Python at run time), so
/// scripts/hf_logits_check.py compares them on a machine that has it; see the README's benchmark section.
/// </summary>
public static class HfReferenceFixtures
{
    private static readonly string[] Architectures = ["llama", "qwen2", "gpt2", "gemma", "gptneox"];
    private const int Tokens = 48;

    public static int Run(bool json)
    {
        var repo = BenchPaths.RepoRoot();
        var root = Path.Combine(repo, "runs", "hf-reference");
        var written = new List<string>();
        foreach (var arch in Architectures)
        {
            var spec = RandomModels.SmallSpec(arch);
            var dir = Path.Combine(root, arch);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            var (_, hfFolder) = RandomModels.Write(spec, dir, [], seed: 1234);
            var tokenizer = BenchPaths.SharedFile(RandomModels.SharedTokenizer(spec).HfTokenizer, "our loader needs a tokenizer beside the HF folder");
            var rng = new Random(5);
            var ids = Enumerable.Range(0, Tokens).Select(_ => rng.Next(spec.VocabSize)).ToArray();
            float[] logits;
            using (var loaded = ModelLoader.Load(hfFolder, tokenizer)) logits = loaded.Model.Forward(Compute.Eager, TokenBatch.Single(ids)).ToArray();
            var rows = Enumerable.Range(0, Tokens).Select(p => logits.AsSpan(p * spec.VocabSize, spec.VocabSize).ToArray()).ToArray();
            var resultPath = Path.Combine(dir, "pinpoint.json");
            File.WriteAllText(resultPath, JsonSerializer.Serialize(new { ids, logits = rows }));
            written.Add($"{Path.GetRelativePath(repo, hfFolder)} {Path.GetRelativePath(repo, resultPath)}");
        }
        Console.WriteLine(json
            ? JsonSerializer.Serialize(new { pairs = written })
            : "compare with Hugging Face transformers where it is installed:\n  python3 scripts/hf_logits_check.py \\\n    " + string.Join(" \\\n    ", written));
        return 0;
    }
}

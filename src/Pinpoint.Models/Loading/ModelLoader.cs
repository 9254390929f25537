using Pinpoint.Engine.Tensors;
using Pinpoint.Models.Architectures;
using Pinpoint.Models.Formats;
using Pinpoint.Models.Tokenizers;
using Pinpoint.Models.Transformer;

namespace Pinpoint.Models.Loading;

/// <summary>A model with its tokenizer, loaded from a path; disposing it releases the memory-mapped weights.</summary>
public sealed class LoadedModel(HookedTransformer model, ITokenizer tokenizer, string path, TensorFileFormat format) : IDisposable
{
    public HookedTransformer Model { get; } = model;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public string Path { get; } = path;
    public TensorFileFormat Format { get; } = format;

    /// <summary>Token ids of a prompt, with BOS exactly when the model's tokenizer configuration asks for it.</summary>
    public int[] Encode(string text)
    {
        var ids = Tokenizer.Encode(text, Model.Config.AddBos && Tokenizer.Bos is not null);
        if (ids.Length == 0) throw new ArgumentException("the prompt encodes to no tokens");
        if (ids.Length > Model.Config.ContextLength)
            throw new ArgumentException($"the prompt is {ids.Length} tokens long; the model's context is {Model.Config.ContextLength}");
        return ids;
    }

    /// <summary>The id of <paramref name="text"/> when it is exactly one token (" Paris"), else an error naming it.</summary>
    public int TokenId(string text)
    {
        var ids = Tokenizer.Encode(text, addBos: false);
        if (ids.Length != 1) throw new ArgumentException($"\"{text}\" is {ids.Length} tokens, not one");
        return ids[0];
    }

    /// <summary>A trace of one forward pass over a prompt (see <see cref="Transformer.Trace"/>).</summary>
    public Trace Trace(string prompt) => Model.Trace(Encode(prompt));

    /// <summary>Logits of a prompt plus the activations whose hook names pass <paramref name="filter"/> (all when null).</summary>
    public (Tensor Logits, ActivationCache Cache) RunWithCache(string prompt, Func<string, bool>? filter = null) =>
        Model.RunWithCache(TokenBatch.Single(Encode(prompt)), filter);

    /// <summary>Logits of a prompt with functions run at hook points.</summary>
    public Tensor RunWithHooks(string prompt, IEnumerable<(string HookName, HookFunction Function)> functions) =>
        Model.RunWithHooks(TokenBatch.Single(Encode(prompt)), functions);

    public void Dispose()
    {
        Model.Dispose();
        Tokenizer.Dispose();
    }
}

/// <summary>Opens a Hugging Face folder, a GGUF file or a llama2.c checkpoint by path.</summary>
public static class ModelLoader
{
    /// <param name="tokenizerPath">A tokenizer to use instead of the model's own (any kind, by content).</param>
    /// <param name="onNonFinite">
    /// Null: NaN or infinite weights are an error naming the tensor. Otherwise it is told about each tensor that
    /// holds them and loading goes on.
    /// </param>
    public static LoadedModel Load(string path, string? tokenizerPath = null, Action<NonFiniteWeight>? onNonFinite = null)
    {
        if (Directory.Exists(path)) return LoadHfFolder(path, tokenizerPath, onNonFinite);
        if (!File.Exists(path)) throw new FileNotFoundException($"model path not found: {path}", path);
        var file = TensorFile.Open(path);
        try
        {
            var (config, weights, tokenizer) = file.Format switch
            {
                TensorFileFormat.Gguf => FromGguf(file, tokenizerPath),
                TensorFileFormat.Llama2c => FromLlama2c(file, tokenizerPath),
                _ => throw new ModelConfigException($"{path}: a lone safetensors file has no config; pass the folder that holds config.json"),
            };
            return Assemble(config, weights, tokenizer, file, path, onNonFinite);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadHfFolder(string folder, string? tokenizerPath, Action<NonFiniteWeight>? onNonFinite)
    {
        var configPath = System.IO.Path.Combine(folder, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{folder}: no config.json in the model folder", configPath);
        var hf = HfConfig.Read(configPath);
        var adapter = ArchitectureRegistry.ForHfModelType(hf.ModelType ?? throw new ModelConfigException($"{configPath}: model_type is missing"), configPath);
        var config = adapter.ConfigFromHf(hf);
        string index = System.IO.Path.Combine(folder, "model.safetensors.index.json"), single = System.IO.Path.Combine(folder, "model.safetensors");
        var weightsPath = File.Exists(single) ? single : File.Exists(index) ? index
            : throw new FileNotFoundException($"{folder}: no model.safetensors or model.safetensors.index.json", single);
        var file = TensorFile.Open(weightsPath);
        try
        {
            var weights = adapter.WeightsFromHf(config, new TensorFileSource(file));
            var tokenizer = TokenizerDiscovery.Open(tokenizerPath ?? TokenizerDiscovery.Find(folder));
            if (tokenizer is HfTokenizer { DecidesBos: true })
                config = config with { AddBos = tokenizer.AddsBosByDefault };
            return Assemble(config, weights, tokenizer, file, folder, onNonFinite);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static (TransformerConfig, TransformerWeights, ITokenizer) FromGguf(TensorFile file, string? tokenizerPath)
    {
        var config = GgufArchitectures.Config(file);
        var weights = GgufArchitectures.Weights(config, new TensorFileSource(file));
        var tokenizer = tokenizerPath is not null ? TokenizerDiscovery.Open(tokenizerPath) : GgufTokenizer.FromFile(file);
        return (config with { AddBos = tokenizer.AddsBosByDefault }, weights, tokenizer);
    }

    private static (TransformerConfig, TransformerWeights, ITokenizer) FromLlama2c(TensorFile file, string? tokenizerPath)
    {
        var config = Llama2cArchitecture.Config(file);
        var weights = Llama2cArchitecture.Weights(config, new TensorFileSource(file));
        return (config, weights, TokenizerDiscovery.Open(tokenizerPath ?? TokenizerDiscovery.Find(file.Path)));
    }

    /// <summary>
    /// Smallest share of the model's vocabulary its tokenizer must cover: models pad their embedding a little past
    /// the tokenizer (GPT-2 50257 → 50304, Qwen2 151646 → 151936, Phi-2 50295 → 51200), never to several times it.
    /// </summary>
    public const double MinTokenizerCoverage = 0.9;

    /// <summary>Fails up front when the tokenizer cannot belong to the model, instead of on the first id it cannot name.</summary>
    private static void CheckPairing(TransformerConfig config, ITokenizer tokenizer, string path)
    {
        string which = tokenizer is TokenizerBase b ? $"the tokenizer {b.Source}" : "the tokenizer";
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ModelConfigException($"{path}: {which} has {tokenizer.VocabSize} tokens but the model only {config.VocabSize}; they do not belong together");
        if (tokenizer.VocabSize < MinTokenizerCoverage * config.VocabSize)
            throw new ModelConfigException(
                $"{path}: {which} has {tokenizer.VocabSize} tokens but the model {config.VocabSize}; they do not belong together (the model would predict ids the tokenizer cannot name)");
    }

    private static LoadedModel Assemble(TransformerConfig config, TransformerWeights weights, ITokenizer tokenizer, TensorFile file, string path,
        Action<NonFiniteWeight>? onNonFinite)
    {
        try
        {
            CheckPairing(config, tokenizer, path);
            var bad = NonFiniteWeights.Find(file);
            if (bad.Count > 0 && onNonFinite is null)
                throw new ModelFormatException(file.Path,
                    $"{bad[0]}{(bad.Count > 1 ? $"; {bad.Count - 1} more tensors hold some" : "")}; the model's outputs would be NaN");
            foreach (var b in bad) onNonFinite!(b);
            return new LoadedModel(new HookedTransformer(config, weights, file), tokenizer, path, file.Format);
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }
}
